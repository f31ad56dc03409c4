"""The fields a rule condition or output may use, as Python expression snippets.

Rules are compiled to Python source (see _compile.py), so each field is described
by the expression that reads it from an Event `e` plus its value type. Process
fields read ProcInfo attributes directly; syscall fields come from `e.fields`;
a few are derived by the helpers below (fd.directory, evt.is_open_write...).
A value that cannot be known is None, and every comparison with None is false,
as in Falco.
"""

from __future__ import annotations

import posixpath
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracehound.agent import record
from tracehound.agent.event import Event, ProcInfo

# Value types: "str", "int", "bool", "list" (of str; `=`/`in` match any element),
# "any" (compared as text, or as a number when both sides are numbers).
FieldType = str


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: FieldType
    expr: str  # Python expression over `e`; may contain {arg} for indexed fields
    indexed: bool = False  # proc.aname[N] style: requires [N]
    index_optional: bool = False  # proc.aname without [N] means "any ancestor"
    any_expr: str = ""  # expression used when an optional index is absent


OPEN_TYPES = frozenset({"open", "openat", "openat2", "creat", "open_by_handle_at"})
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR")


# ---- helpers referenced by the generated code (names start with _h_) ----


def _h_fd_dir(e: Event) -> str | None:
    name = e.fields.get("fd.directory")
    if name is not None:
        return str(name)
    path = e.fields.get("fd.name")
    if not isinstance(path, str) or not path.startswith("/"):
        return None
    return posixpath.dirname(path)


def _h_fd_file(e: Event) -> str | None:
    name = e.fields.get("fd.filename")
    if name is not None:
        return str(name)
    path = e.fields.get("fd.name")
    if not isinstance(path, str) or not path.startswith("/"):
        return None
    return posixpath.basename(path)


def _h_fd_type(e: Event) -> str | None:
    t = e.fields.get("fd.type")
    if t is not None:
        return str(t)
    fam = e.fields.get("fd.sockfamily")
    if fam == "ip":
        return "ipv4"
    if fam in ("ip6", "unix"):
        return "ipv6" if fam == "ip6" else "unix"
    name = e.fields.get("fd.name")
    if isinstance(name, str) and name.startswith("/"):
        flags = e.fields.get("evt.arg.flags")
        if isinstance(flags, str) and "O_DIRECTORY" in flags:
            return "directory"
        return "file"
    return None


_TYPECHAR = {"file": "f", "directory": "d", "ipv4": "4", "ipv6": "6", "unix": "u", "memfd": "f"}


def _h_fd_typechar(e: Event) -> str | None:
    t = _h_fd_type(e)
    return None if t is None else _TYPECHAR.get(t, "o")


def _h_fd_num(e: Event) -> int | None:
    v = e.fields.get("fd.num")
    if v is None:
        v = e.fields.get("evt.arg.fd")
    if v is None and e.type in OPEN_TYPES:
        v = e.fields.get("evt.res")
    return v if isinstance(v, int) else None


def is_open_write(e: Event) -> bool:
    if e.type not in OPEN_TYPES:
        return False
    if e.type == "creat":
        return True
    flags = e.fields.get("evt.arg.flags")
    return isinstance(flags, str) and ("O_WRONLY" in flags or "O_RDWR" in flags)


def _h_open_read(e: Event) -> bool:
    if e.type not in OPEN_TYPES or e.type == "creat":
        return False
    flags = e.fields.get("evt.arg.flags")
    return not isinstance(flags, str) or "O_WRONLY" not in flags


def _h_open_exec(e: Event) -> bool:
    if e.type not in OPEN_TYPES:
        return False
    mode = e.fields.get("evt.arg.mode")
    return isinstance(mode, str) and any(c in mode for c in "1357")


def _h_failed(e: Event) -> bool:
    f = e.fields.get("evt.failed")
    if f is not None:
        return bool(f)
    res = e.fields.get("evt.res")
    return isinstance(res, int) and res < 0


def _h_anc(e: Event, level: int) -> ProcInfo | None:
    return e.proc.ancestor(level)


def _h_anames(e: Event) -> list[str]:
    out = []
    p = e.proc.parent
    while p is not None:
        out.append(p.name)
        p = p.parent
    return out


def _h_static(name: str) -> Any:
    return record.static_fields.get(name)


class WrittenFiles:
    """Paths opened for writing during this run (bounded): proc.is_exe_upper_layer.

    In a container, a file written after start lives in the overlay's upper layer,
    which is what Falco's field means; we see the write itself, so we use that.
    """

    def __init__(self, max_entries: int = 65536) -> None:
        self._paths: OrderedDict[str, None] = OrderedDict()
        self._max = max_entries

    def add(self, path: str) -> None:
        self._paths[path] = None
        self._paths.move_to_end(path)
        if len(self._paths) > self._max:
            self._paths.popitem(last=False)

    def __contains__(self, path: object) -> bool:
        return path in self._paths

    def observe(self, e: Event) -> None:
        if is_open_write(e) or e.type in _CREATE_TYPES:
            name = e.fields.get("fd.name")
            if isinstance(name, str):
                self.add(name)


_CREATE_TYPES = frozenset({"rename", "renameat", "renameat2", "link", "linkat", "symlink"})

# The process-wide instance used by generated code (the chain feeds it).
WRITTEN = WrittenFiles()


def _h_exe_written(e: Event) -> bool:
    return e.proc.exepath in WRITTEN


HELPERS: dict[str, Callable[..., Any]] = {
    name: obj for name, obj in globals().items() if name.startswith("_h_") and callable(obj)
}
HELPERS["_h_open_write"] = is_open_write


def _f(name: str) -> str:
    return f"e.fields.get({name!r})"


_P = "e.proc"
_PP = "e.proc.parent"

FIELDS: dict[str, FieldSpec] = {}


def _add(name: str, type_: FieldType, expr: str, **kw: Any) -> None:
    FIELDS[name] = FieldSpec(name, type_, expr, **kw)


# evt.*
_add("evt.type", "str", "e.type")
_add("evt.dir", "str", "'<'")  # one record per syscall, with the exit when captured
_add("evt.tags", "list", "e.tags")
_add("evt.res", "int", _f("evt.res"))
_add("evt.rawres", "int", _f("evt.res"))
_add("evt.failed", "bool", "_h_failed(e)")
_add("evt.is_open_write", "bool", "_h_open_write(e)")
_add("evt.is_open_read", "bool", "_h_open_read(e)")
_add("evt.is_open_exec", "bool", "_h_open_exec(e)")
_add("thread.tid", "int", "e.tid")
# proc.*
_add("proc.pid", "int", f"{_P}.pid")
_add("proc.ppid", "int", f"{_P}.ppid")
_add("proc.name", "str", f"{_P}.name")
_add("proc.exe", "str", f"({_P}.argv[0] if {_P}.argv else {_P}.exepath)")
_add("proc.exepath", "str", f"{_P}.exepath")
_add("proc.cmdline", "str", f"{_P}.cmdline")
_add("proc.args", "str", f"{_P}.args")
_add("proc.cwd", "str", f"{_P}.cwd")
_add("proc.is_exe_upper_layer", "bool", "_h_exe_written(e)")
_add("proc.pname", "str", f"({_PP}.name if {_PP} is not None else None)")
_add("proc.pexepath", "str", f"({_PP}.exepath if {_PP} is not None else None)")
_add("proc.pexe", "str", f"({_PP}.argv[0] if {_PP} is not None and {_PP}.argv else None)")
_add("proc.pcmdline", "str", f"({_PP}.cmdline if {_PP} is not None else None)")
_add("proc.ppid", "int", f"{_P}.ppid")
for _n, _attr, _t in (
    ("proc.aname", "name", "str"),
    ("proc.apid", "pid", "int"),
    ("proc.aexepath", "exepath", "str"),
    ("proc.acmdline", "cmdline", "str"),
):
    _add(
        _n,
        _t,
        f"(_a.{_attr} if (_a := _h_anc(e, {{arg}})) is not None else None)",
        indexed=True,
        index_optional=_n == "proc.aname",
        any_expr="_h_anames(e)",
    )
_add("user.uid", "int", f"{_P}.uid")
_add("user.name", "str", _f("user.name"))
_add("group.gid", "int", f"{_P}.gid")
_add("group.name", "str", _f("group.name"))
# fd.*
_add("fd.name", "str", _f("fd.name"))
_add("fd.directory", "str", "_h_fd_dir(e)")
_add("fd.filename", "str", "_h_fd_file(e)")
_add("fd.type", "str", "_h_fd_type(e)")
_add("fd.typechar", "str", "_h_fd_typechar(e)")
_add("fd.num", "int", "_h_fd_num(e)")
for _n in ("fd.sip", "fd.rip", "fd.cip", "fd.lip", "fd.l4proto", "fd.sockfamily"):
    _add(_n, "str", _f(_n))
for _n in ("fd.sport", "fd.rport", "fd.cport", "fd.lport"):
    _add(_n, "int", _f(_n))
# syscall arguments the tracer decodes
for _n in ("flags", "request", "name", "path", "newpath", "oldpath", "target", "linkpath"):
    _add(f"evt.arg.{_n}", "str", _f(f"evt.arg.{_n}"))
for _n in ("pid", "fd", "newfd", "oldfd", "uid", "gid", "ruid", "euid", "suid", "rgid", "egid"):
    _add(f"evt.arg.{_n}", "int", _f(f"evt.arg.{_n}"))
_add("evt.arg.sgid", "int", _f("evt.arg.sgid"))
_add("evt.arg.mode", "any", _f("evt.arg.mode"))
# container / ECS (static per task, set by the enrichment stage)
for _n in (
    "container.id",
    "container.name",
    "container.image",
    "container.image.repository",
    "container.image.tag",
    "aws.ecs.task_arn",
    "aws.ecs.cluster",
    "aws.ecs.task_family",
    "aws.ecs.task_revision",
    "aws.ecs.availability_zone",
    "aws.ecs.launch_type",
):
    _add(_n, "str", f"_h_static({_n!r})")
_add("container.info", "str", "_h_static('container.name')")


def field_names() -> list[str]:
    return sorted(FIELDS)

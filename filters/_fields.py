"""The fields a rule condition or output may use, as Python expression snippets.

Rules are compiled to Python source (see _compile.py), so each field is described
by the expression that reads it from an Event `e` plus its value type. Process
fields read ProcInfo attributes directly; syscall fields come from `e.fields`;
a few are derived by the helpers below (fd.directory, evt.is_open_write...).
A value that cannot be known is None, and every comparison with None is false,
as in Falco.
"""

from __future__ import annotations

import base64
import binascii
import errno
import fnmatch
import ipaddress
import posixpath
import socket
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracehound.agent import record
from tracehound.agent.event import Event, ProcInfo
from tracehound.filters import _procinfo as PI

# Value types: "str", "int", "bool", "list" (`=`/`in` match any element; `elem`
# gives the element type), "net" (a list of addresses compared with CIDR values),
# "any" (compared as text, or as a number when both sides are numbers), "uid" (like
# "any", and a user name matches its uid too).
FieldType = str


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: FieldType
    expr: str  # Python expression over `e`; may contain {arg} for indexed fields
    indexed: bool = False  # proc.aname[N] style: requires [N]
    index_optional: bool = False  # proc.aname without [N] means "any ancestor"
    any_expr: str = ""  # expression used when an optional index is absent
    key_type: str = "int"  # "int": [N] is a number ({arg}); "str": any text ({key}, quoted)
    elem: str = "str"  # element type of a "list" field


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


def _h_fd_written(e: Event) -> bool:
    return e.fields.get("fd.name") in WRITTEN


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
_add("fd.is_upper_layer", "bool", "_h_fd_written(e)")  # written during this run
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
# The kernel's answer against the application's claim (agent/tracer/truth.py).
_add("evt.claim_mismatch", "bool", f"bool({_f('evt.claim_mismatch')})")
for _n in ("claim", "addr"):
    _add(f"evt.arg.{_n}", "str", _f(f"evt.arg.{_n}"))
_add("fd.dev", "int", _f("fd.dev"))
_add("fd.ino", "int", _f("fd.ino"))
_add("evt.arg.mode", "any", _f("evt.arg.mode"))
# container / ECS (static per task, set by the enrichment stage)
for _n in (
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
# Falco's container.id is "host" for a process outside any container; without ECS
# metadata we cannot tell, and say "host" as Falco does when no container is found.
_add("container.id", "str", "(_h_static('container.id') or 'host')")


def field_names() -> list[str]:
    return sorted(FIELDS)


# ---- Falco compatibility: fields computed from the process tree, /proc and the args ----


def _h_res(e: Event) -> str | None:
    """evt.res as Falco writes it: SUCCESS, or the errno name of a failure."""
    res = e.fields.get("evt.res")
    if not isinstance(res, int):
        return None
    if res >= 0:
        return "SUCCESS"
    return errno.errorcode.get(-res, str(res))


def _h_rawres(e: Event) -> int | None:
    res = e.fields.get("evt.res")
    return res if isinstance(res, int) else None


def _h_fd_num_falco(e: Event) -> int | None:
    """fd.num; a failed open has fd.num -1 in Falco. Unknown when the result was not captured."""
    v = _h_fd_num(e)
    if v is not None and v < 0 and e.type in OPEN_TYPES:
        return -1
    return v


def _h_cwd(e: Event) -> str | None:
    cwd = e.proc.cwd
    if not cwd:
        return None
    return cwd if cwd.endswith("/") else cwd + "/"  # libsinsp keeps a trailing '/'


def _h_user_name(e: Event) -> str:
    name = e.fields.get("user.name")
    if name is not None:
        return str(name)
    return "root" if e.proc.uid == 0 else "<NA>"  # libsinsp's values for an unknown user


def _h_loginname(e: Event) -> str | None:
    uid = PI.loginuid(e.proc)
    if uid is None:
        return None
    name = USERS.get(uid)
    if name is not None:
        return name
    return "root" if uid == 0 else "<NA>"


def _name_of(e: Event, pid: int | None) -> str | None:
    """The name of `pid`: from the event's process tree, else from /proc."""
    if pid is None:
        return None
    p = PI.process_by_pid(e.proc, pid)
    return p.name if p is not None else PI.comm_of(pid)


def _h_sname(e: Event) -> str | None:
    return _name_of(e, PI.sid(e.proc))


def _h_vpgid_name(e: Event) -> str | None:
    return _name_of(e, PI.vpgid(e.proc))


def _h_vpgid_exe(e: Event) -> str | None:
    g = PI.vpgid(e.proc)
    if g is None:
        return None
    p = PI.process_by_pid(e.proc, g)
    if p is not None:
        return p.argv[0] if p.argv else p.exepath
    return PI.exe_of(g)


def _h_is_vpgid_leader(e: Event) -> bool | None:
    g, v = PI.vpgid(e.proc), PI.vpid(e.proc)
    return None if g is None or v is None else g == v


def _h_is_sid_leader(e: Event) -> bool | None:
    s, v = PI.sid(e.proc), PI.vpid(e.proc)
    return None if s is None or v is None else s == v


def _h_duration(e: Event) -> int | None:
    start = PI.clone_ts(e.proc)
    return None if start is None else e.ts - start


def _h_pduration(e: Event) -> int | None:
    p = e.proc.parent
    start = PI.clone_ts(p) if p is not None else None
    return None if start is None else e.ts - start


def _h_env(e: Event) -> str | None:
    env = PI.env(e.proc)
    return None if env is None else " ".join(env)


def _h_env_var(e: Event, name: str) -> str | None:
    env = PI.env(e.proc)
    if env is None:
        return None
    prefix = name + "="
    for kv in env:
        if kv.startswith(prefix):
            return kv[len(prefix) :]
    return ""  # libsinsp returns an empty string for an unset variable


def _h_exe_ino(e: Event, what: str) -> int | None:
    st = PI.exe_stat(e.proc)
    if st is None:
        return None
    v = {"ino": st.st_ino, "ctime": st.st_ctime_ns, "mtime": st.st_mtime_ns}.get(what)
    if what == "ctime_duration":
        start = PI.clone_ts(e.proc)
        v = None if start is None else start - st.st_ctime_ns
    return v or None  # libsinsp: 0 means "not known"


def _h_from_memfd(e: Event) -> bool:
    exe = e.proc.exepath
    return exe.startswith("/memfd:") or exe.startswith("memfd:")


def _h_aexe(e: Event, level: int) -> str | None:
    a = e.proc.ancestor(level)
    if a is None:
        return None
    return a.argv[0] if a.argv else a.exepath


def _h_ips(e: Event, *keys: str) -> list[str] | None:
    """fd.ip / fd.net: the addresses of the connection (client and server)."""
    f = e.fields
    out = [str(v) for k in keys if (v := f.get(k)) is not None]
    return out or None


def _h_ports(e: Event) -> list[int] | None:
    f = e.fields
    out = [v for k in ("fd.cport", "fd.sport") if isinstance(v := f.get(k), int)]
    return out or None


_CONNECT_TYPES = frozenset({"connect"})
_SEND_TYPES = frozenset({"sendto", "sendmsg", "sendmmsg"})


def _h_connected(e: Event) -> bool | None:
    if e.type in _CONNECT_TYPES:
        res = e.fields.get("evt.res")
        return None if not isinstance(res, int) else res == 0
    if e.type in _SEND_TYPES and e.fields.get("fd.rip") is not None:
        return False  # a send that names its destination goes through an unconnected socket
    if e.type in ("accept", "accept4"):
        res = e.fields.get("evt.res")
        return None if not isinstance(res, int) else res >= 0
    return None


def _h_name_changed(e: Event) -> bool:
    """True when this event gave the fd a (new) name: connect, accept, a send with an address."""
    if e.fields.get("fd.name") is None and e.fields.get("fd.rip") is None:
        return False
    return e.type in _CONNECT_TYPES or e.type in _SEND_TYPES or e.type in ("accept", "accept4")


def _h_domain(e: Event) -> str | None:
    fam = e.fields.get("fd.sockfamily")
    if fam is None:
        return None
    named = {"ip": "AF_INET", "ip6": "AF_INET6", "unix": "AF_UNIX"}.get(str(fam))
    if named is not None:
        return named
    try:
        return socket.AddressFamily(int(fam)).name
    except ValueError:
        return str(fam)


_ALIASES: dict[str, tuple[frozenset[str], str]] = {
    # libsinsp parameter name -> (event types, where tracehound keeps the value)
    "name": (OPEN_TYPES, "fd.name"),
    "filename": (
        frozenset({"execve", "execveat", "chmod", "fchmodat", "fchmodat2", "mknod", "mknodat"}),
        "fd.name",
    ),
    "oldpath": (frozenset({"link", "linkat"}), "evt.arg.target"),
    "newpath": (frozenset({"link", "linkat"}), "fd.name"),
    "linkpath": (frozenset({"symlink", "symlinkat"}), "fd.name"),
    "path": (
        frozenset({"mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "chdir", "chroot"}),
        "fd.name",
    ),
}


def _h_arg(e: Event, name: str) -> Any:
    """evt.arg.NAME with libsinsp's argument names, whichever key the tracer used."""
    v = e.fields.get("evt.arg." + name)
    if v is not None:
        return v
    alias = _ALIASES.get(name)
    if alias is not None and e.type in alias[0]:
        return e.fields.get(alias[1])
    if name == "domain" and e.type in ("socket", "socketpair"):
        return _h_domain(e)
    if name == "cmd" and e.type == "bpf":
        raw = e.fields.get("evt.args")  # generic decoding: the raw register values
        if isinstance(raw, list) and raw:
            return int(str(raw[0]), 0)
    return None


def _h_args(e: Event) -> str | None:
    """evt.args: every argument as name=value, space-separated (Falco's layout)."""
    parts = [f"{k[8:]}={v}" for k, v in e.fields.items() if k.startswith("evt.arg.")]
    if "fd.name" in e.fields:
        parts.insert(0, f"name={e.fields['fd.name']}")
    res = e.fields.get("evt.res")
    if isinstance(res, int):
        parts.insert(0, f"res={res}")
    return " ".join(parts) if parts else None


def _h_time(e: Event) -> str:
    return record.falco_time(e.ts)


def _h_mount_dest(e: Event, source: str) -> str:
    """container.mount.dest[SOURCE]: the destination of the mount whose source matches."""
    for src, dest in CONTAINER_MOUNTS:
        if fnmatch.fnmatchcase(src, source):
            return dest
    return "<NA>"  # Falco's value when the container has no such mount


def _h_mounts(e: Event) -> str | None:
    if not CONTAINER_MOUNTS:
        return None
    # Falco adds mode, rw and propagation; ECS metadata gives only source and destination.
    return ",".join(f"{s}:{d}" for s, d in CONTAINER_MOUNTS)


def _h_privileged(e: Event) -> bool:
    return PRIVILEGED[0]


def _h_tf_lower(v: Any) -> Any:
    return v.lower() if isinstance(v, str) else v


def _h_tf_upper(v: Any) -> Any:
    return v.upper() if isinstance(v, str) else v


def _h_tf_b64(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    try:
        return base64.b64decode(v, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None


def _h_tf_basename(v: Any) -> Any:
    return posixpath.basename(v) if isinstance(v, str) else v


def _h_tf_len(v: Any) -> int | None:
    if v is None:
        return None
    return len(v) if isinstance(v, str | list | tuple) else len(str(v))


def _h_uid_eq(v: Any, text: str) -> bool:
    if v is None:
        return False
    if str(v) == text:
        return True
    return isinstance(v, int) and USERS.get(v) == text


def _h_in_nets(v: Any, nets: tuple[Any, ...]) -> bool:
    if not v:
        return False
    for ip in v:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            continue
        if any(addr.version == n.version and addr in n for n in nets):
            return True
    return False


# Set by the stage chain / enrichment: uid -> name, ECS mounts, privileged (see docs/rules.md).
USERS: dict[int, str] = {}
CONTAINER_MOUNTS: list[tuple[str, str]] = []
PRIVILEGED: list[bool] = [False]

HELPERS.update(
    {name: obj for name, obj in globals().items() if name.startswith("_h_") and callable(obj)}
)
HELPERS["_PI"] = PI  # type: ignore[assignment]

_add("evt.res", "str", "_h_res(e)")
_add("evt.rawres", "int", "_h_rawres(e)")
_add("evt.num", "int", "None")  # events are not numbered: see docs/rules.md
_add("evt.time", "str", "_h_time(e)")
_add("evt.rawtime", "int", "e.ts")
_add("evt.hostname", "str", "_HOSTNAME")
_add("evt.args", "str", "_h_args(e)")
_add("evt.buffer", "str", "None")  # read/write buffers are not captured
_add("evt.arg", "any", "_h_arg(e, {key})", indexed=True, key_type="str")
_add("fd.num", "int", "_h_fd_num_falco(e)")
_add("fd.nameraw", "str", _f("fd.name"))
for _n in ("fd.sip.name", "fd.cip.name", "fd.rip.name", "fd.lip.name"):
    _add(_n, "str", "None")  # no DNS resolution cache on Fargate
_add("fd.ip", "list", "_h_ips(e, 'fd.cip', 'fd.sip')")
_add("fd.port", "list", "_h_ports(e)", elem="int")
_add("fd.net", "net", "_h_ips(e, 'fd.cip', 'fd.sip')")
for _n, _k in (
    ("fd.snet", "fd.sip"),
    ("fd.cnet", "fd.cip"),
    ("fd.rnet", "fd.rip"),
    ("fd.lnet", "fd.lip"),
):
    _add(_n, "net", f"_h_ips(e, {_k!r})")
_add("fd.connected", "bool", "_h_connected(e)")
_add("fd.name_changed", "bool", "_h_name_changed(e)")
_add("fd.types", "list", "None", indexed=True, index_optional=True, any_expr="None")
_add("proc.cwd", "str", "_h_cwd(e)")
_add("proc.tty", "int", "_PI.tty(e.proc)")
_add("proc.vpid", "int", "_PI.vpid(e.proc)")
_add("proc.pvpid", "int", f"(_PI.vpid({_PP}) if {_PP} is not None else None)")
_add("proc.vpgid", "int", "_PI.vpgid(e.proc)")
_add("proc.sid", "int", "_PI.sid(e.proc)")
_add("proc.sname", "str", "_h_sname(e)")
_add("proc.vpgid.name", "str", "_h_vpgid_name(e)")
_add("proc.vpgid.exe", "str", "_h_vpgid_exe(e)")
_add("proc.is_vpgid_leader", "bool", "_h_is_vpgid_leader(e)")
_add("proc.is_sid_leader", "bool", "_h_is_sid_leader(e)")
_add("proc.duration", "int", "_h_duration(e)")
_add("proc.ppid.duration", "int", "_h_pduration(e)")
_add("proc.pid.ts", "int", "_PI.clone_ts(e.proc)")
_add("proc.env", "str", "_h_env_var(e, {key})", indexed=True, index_optional=True,
     any_expr="_h_env(e)", key_type="str")  # fmt: skip
_add("proc.exe_ino", "int", "_h_exe_ino(e, 'ino')")
_add("proc.exe_ino.ctime", "int", "_h_exe_ino(e, 'ctime')")
_add("proc.exe_ino.mtime", "int", "_h_exe_ino(e, 'mtime')")
_add("proc.exe_ino.ctime_duration_proc_start", "int", "_h_exe_ino(e, 'ctime_duration')")
_add("proc.is_exe_from_memfd", "bool", "_h_from_memfd(e)")
_add("proc.aexe", "str", "_h_aexe(e, {arg})", indexed=True)
_add("thread.cap_effective", "str", "_PI.caps(e.proc, 'CapEff')")
_add("thread.cap_permitted", "str", "_PI.caps(e.proc, 'CapPrm')")
_add("thread.cap_inheritable", "str", "_PI.caps(e.proc, 'CapInh')")
_add("user.name", "str", "_h_user_name(e)")
_add("user.loginuid", "int", "_PI.loginuid(e.proc)")
_add("user.loginname", "str", "_h_loginname(e)")
_add("container.privileged", "bool", "_h_privileged(e)")
_add("container.start_ts", "int", "_h_static('container.start_ts')")
_add("container.mounts", "str", "_h_mounts(e)")
_add("container.mount.dest", "str", "_h_mount_dest(e, {key})", indexed=True, key_type="str")
for _n in ("k8s.ns.name", "k8s.pod.name"):
    _add(_n, "str", "None")  # ECS is not Kubernetes; see docs/rules.md
for _n in ("uid", "euid", "ruid", "suid"):
    _add(f"evt.arg.{_n}", "uid", f"_h_arg(e, {_n!r})")
for _n in ("name", "path", "newpath", "oldpath", "target", "linkpath", "filename", "domain"):
    _add(f"evt.arg.{_n}", "str", f"_h_arg(e, {_n!r})")
_add("evt.arg.cmd", "any", "_h_arg(e, 'cmd')")

HELPERS["_HOSTNAME"] = record.HOSTNAME  # type: ignore[assignment]


_PROC_HELPERS = (
    "_PI.", "_h_loginname", "_h_sname", "_h_vpgid", "_h_is_", "_h_duration", "_h_pduration",
    "_h_env", "_h_exe_ino",
)  # fmt: skip
# Fields read from /proc/<pid> (once per process snapshot): see filters._procinfo.
PROC_LEVEL_FIELDS = frozenset(
    n for n, spec in FIELDS.items() if any(h in spec.expr + spec.any_expr for h in _PROC_HELPERS)
)


def container_privileged(status_text: str, cap_last_cap: int) -> bool:
    """A privileged container keeps every capability in its bounding set."""
    for line in status_text.splitlines():
        if line.startswith("CapBnd:"):
            mask = int(line.split()[1], 16)
            return mask & ((1 << (cap_last_cap + 1)) - 1) == (1 << (cap_last_cap + 1)) - 1
    return False


def detect_privileged() -> bool:
    try:
        with open("/proc/self/status") as f:
            status = f.read()
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        return False
    return container_privileged(status, last)


def generic_field(name: str) -> FieldSpec | None:
    """evt.arg.NAME for any argument name: read what the tracer decoded under that name."""
    if not name.startswith("evt.arg.") or len(name) <= 8:
        return None
    arg = name[8:]
    if not arg.replace("_", "").isalnum():
        return None
    spec = FieldSpec(name, "any", f"_h_arg(e, {arg!r})")
    FIELDS[name] = spec
    return spec

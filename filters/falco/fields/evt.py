"""evt.*: the syscall itself (type, result, time, arguments)."""

from __future__ import annotations

import errno
import socket
from typing import Any

from tracehound.event import Event
from tracehound.families import EXEC, OPEN
from tracehound.filters.falco.fields.context import is_open_write
from tracehound.filters.falco.fields.registry import CALL, HELPERS, arg, define, helper
from tracehound.openflags import O_ACCMODE, O_WRONLY, format_open_flags
from tracehound.record import HOSTNAME, falco_time

HELPERS["_h_open_write"] = is_open_write
HELPERS["_HOSTNAME"] = HOSTNAME


@helper
def _h_open_read(e: Event) -> bool:
    if e.type not in OPEN or e.type == "creat":
        return False
    flags = e.fields.get("evt.arg.flags")
    return not isinstance(flags, int) or flags & O_ACCMODE != O_WRONLY


@helper
def _h_flags(e: Event) -> Any:
    """evt.arg.flags: an open's flags by name (events keep the int); others as decoded."""
    flags = e.fields.get("evt.arg.flags")
    if isinstance(flags, int) and e.type in OPEN:
        return format_open_flags(flags)
    return flags


@helper
def _h_open_exec(e: Event) -> bool:
    if e.type not in OPEN:
        return False
    mode = e.fields.get("evt.arg.mode")
    return isinstance(mode, str) and any(c in mode for c in "1357")


@helper
def _h_failed(e: Event) -> bool:
    f = e.fields.get("evt.failed")
    if f is not None:
        return bool(f)
    res = e.fields.get("evt.res")
    return isinstance(res, int) and res < 0


@helper
def _h_res(e: Event) -> str | None:
    """evt.res as Falco writes it: SUCCESS, or the errno name of a failure."""
    res = e.fields.get("evt.res")
    if not isinstance(res, int):
        return None
    if res >= 0:
        return "SUCCESS"
    return errno.errorcode.get(-res, str(res))


@helper
def _h_rawres(e: Event) -> int | None:
    res = e.fields.get("evt.res")
    return res if isinstance(res, int) else None


@helper
def _h_time(e: Event) -> str:
    return falco_time(e.ts)


@helper
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
    "name": (OPEN, "fd.name"),
    "filename": (EXEC | {"chmod", "fchmodat", "fchmodat2", "mknod", "mknodat"}, "fd.name"),
    "oldpath": (frozenset({"link", "linkat"}), "evt.arg.target"),
    "newpath": (frozenset({"link", "linkat"}), "fd.name"),
    "linkpath": (frozenset({"symlink", "symlinkat"}), "fd.name"),
    "path": (
        frozenset({"mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "chdir", "chroot"}),
        "fd.name",
    ),
}


@helper
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


@helper
def _h_args(e: Event) -> str | None:
    """evt.args: every argument as name=value, space-separated (Falco's layout)."""
    parts = [f"{k[8:]}={v}" for k, v in e.fields.items() if k.startswith("evt.arg.")]
    if "fd.name" in e.fields:
        parts.insert(0, f"name={e.fields['fd.name']}")
    res = e.fields.get("evt.res")
    if isinstance(res, int):
        parts.insert(0, f"res={res}")
    return " ".join(parts) if parts else None


define("evt.type", "str", "e.type", cost=0.2)  # the rules index: test it first
define("evt.dir", "str", "'<'")  # one record per syscall, with the exit when captured
define("evt.tags", "list", "e.tags")
define("evt.res", "str", "_h_res(e)", cost=CALL)
define("evt.rawres", "int", "_h_rawres(e)", cost=CALL)
define("evt.failed", "bool", "_h_failed(e)", cost=CALL)
define("evt.is_open_write", "bool", "_h_open_write(e)", cost=CALL)
define("evt.is_open_read", "bool", "_h_open_read(e)", cost=CALL)
define("evt.is_open_exec", "bool", "_h_open_exec(e)", cost=CALL)
define("evt.num", "int", "None")  # events are not numbered: see docs/rules.md
define("evt.time", "str", "_h_time(e)", cost=CALL, varies=True)
define("evt.rawtime", "int", "e.ts")
define("evt.hostname", "str", "_HOSTNAME")
define("evt.args", "str", "_h_args(e)", cost=CALL)
define("evt.buffer", "str", "None")  # read/write buffers are not captured
define("evt.arg", "any", "_h_arg(e, {key})", cost=CALL, indexed=True, key_type="str")
# Syscall arguments the tracer decodes, under their own key.
define("evt.arg.flags", "str", "_h_flags(e)", cost=CALL)
define("evt.arg.request", "str", arg("evt.arg.request"))
for _n in ("pid", "fd", "newfd", "oldfd", "gid", "rgid", "egid", "sgid"):
    define(f"evt.arg.{_n}", "int", arg(f"evt.arg.{_n}"))
define("evt.arg.mode", "any", arg("evt.arg.mode"))
# The kernel's answer against the application's claim (agent/tracer/truth.py).
define("evt.claim_mismatch", "bool", f"bool({arg('evt.claim_mismatch')})")
for _n in ("claim", "addr"):
    define(f"evt.arg.{_n}", "str", arg(f"evt.arg.{_n}"))
# Arguments libsinsp names differently from where tracehound keeps them (see _ALIASES).
for _n in ("uid", "euid", "ruid", "suid"):
    define(f"evt.arg.{_n}", "uid", f"_h_arg(e, {_n!r})", cost=CALL)
for _n in ("name", "path", "newpath", "oldpath", "target", "linkpath", "filename", "domain"):
    define(f"evt.arg.{_n}", "str", f"_h_arg(e, {_n!r})", cost=CALL)
define("evt.arg.cmd", "any", "_h_arg(e, 'cmd')", cost=CALL)

"""fd.*: the file or socket the syscall names (path, addresses, ports)."""

from __future__ import annotations

import ipaddress
import posixpath
from typing import Any

from tracehound.event import Event
from tracehound.families import ACCEPT, CONNECT, OPEN, SEND
from tracehound.filters.falco.fields.context import FieldContext
from tracehound.filters.falco.fields.registry import CALL, arg, define, helper
from tracehound.openflags import is_directory


@helper
def _h_fd_dir(e: Event) -> str | None:
    name = e.fields.get("fd.directory")
    if name is not None:
        return str(name)
    path = e.fields.get("fd.name")
    if not isinstance(path, str) or not path.startswith("/"):
        return None
    return posixpath.dirname(path)


@helper
def _h_fd_file(e: Event) -> str | None:
    name = e.fields.get("fd.filename")
    if name is not None:
        return str(name)
    path = e.fields.get("fd.name")
    if not isinstance(path, str) or not path.startswith("/"):
        return None
    return posixpath.basename(path)


@helper
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
        if e.type in OPEN and isinstance(flags, int) and is_directory(flags):
            return "directory"
        return "file"
    return None


_TYPECHAR = {"file": "f", "directory": "d", "ipv4": "4", "ipv6": "6", "unix": "u", "memfd": "f"}


@helper
def _h_fd_typechar(e: Event) -> str | None:
    t = _h_fd_type(e)
    return None if t is None else _TYPECHAR.get(t, "o")


@helper
def _h_fd_num(e: Event) -> int | None:
    """fd.num; a failed open has fd.num -1 in Falco. Unknown when the result was not captured."""
    v = e.fields.get("fd.num")
    if v is None:
        v = e.fields.get("evt.arg.fd")
    if v is None and e.type in OPEN:
        v = e.fields.get("evt.res")
    if not isinstance(v, int):
        return None
    if v < 0 and e.type in OPEN:
        return -1
    return v


@helper
def _h_ips(e: Event, *keys: str) -> list[str] | None:
    """fd.ip / fd.net: the addresses of the connection (client and server)."""
    f = e.fields
    out = [str(v) for k in keys if (v := f.get(k)) is not None]
    return out or None


@helper
def _h_ports(e: Event) -> list[int] | None:
    f = e.fields
    out = [v for k in ("fd.cport", "fd.sport") if isinstance(v := f.get(k), int)]
    return out or None


@helper
def _h_connected(e: Event) -> bool | None:
    if e.type in CONNECT:
        res = e.fields.get("evt.res")
        return None if not isinstance(res, int) else res == 0
    if e.type in SEND and e.fields.get("fd.rip") is not None:
        return False  # a send that names its destination goes through an unconnected socket
    if e.type in ACCEPT:
        res = e.fields.get("evt.res")
        return None if not isinstance(res, int) else res >= 0
    return None


@helper
def _h_name_changed(e: Event) -> bool:
    """True when this event gave the fd a (new) name: connect, accept, a send with an address."""
    if e.fields.get("fd.name") is None and e.fields.get("fd.rip") is None:
        return False
    return e.type in CONNECT or e.type in SEND or e.type in ACCEPT


@helper
def _h_fd_written(ctx: FieldContext, e: Event) -> bool:
    return e.fields.get("fd.name") in ctx.written


@helper
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


define("fd.name", "str", arg("fd.name"))
# The path as the application passed it (unresolved, `../` kept); the decoder keeps it
# only when it differs from fd.name.
define("fd.nameraw", "str", "e.fields.get('fd.nameraw', e.fields.get('fd.name'))")
# written during this run
define("fd.is_upper_layer", "bool", "_h_fd_written(_ctx, e)", cost=CALL, written=True)
define("fd.directory", "str", "_h_fd_dir(e)", cost=CALL)
define("fd.filename", "str", "_h_fd_file(e)", cost=CALL)
define("fd.type", "str", "_h_fd_type(e)", cost=CALL)
define("fd.typechar", "str", "_h_fd_typechar(e)", cost=CALL)
define("fd.num", "int", "_h_fd_num(e)", cost=CALL)
define("fd.types", "list", "None", cost=CALL, indexed=True, index_optional=True, any_expr="None")
for _n in ("fd.sip", "fd.rip", "fd.cip", "fd.lip", "fd.l4proto", "fd.sockfamily"):
    define(_n, "str", arg(_n))
for _n in ("fd.sport", "fd.rport", "fd.cport", "fd.lport"):
    define(_n, "int", arg(_n))
for _n in ("fd.sip.name", "fd.cip.name", "fd.rip.name", "fd.lip.name"):
    define(_n, "str", "None")  # no DNS resolution cache on Fargate
define("fd.ip", "list", "_h_ips(e, 'fd.cip', 'fd.sip')", cost=CALL)
define("fd.port", "list", "_h_ports(e)", cost=CALL, elem="int")
define("fd.net", "net", "_h_ips(e, 'fd.cip', 'fd.sip')", cost=CALL)
for _n, _k in (("fd.snet", "fd.sip"), ("fd.cnet", "fd.cip"), ("fd.rnet", "fd.rip"),
               ("fd.lnet", "fd.lip")):  # fmt: skip
    define(_n, "net", f"_h_ips(e, {_k!r})", cost=CALL)
define("fd.connected", "bool", "_h_connected(e)", cost=CALL)
define("fd.name_changed", "bool", "_h_name_changed(e)", cost=CALL)

# The opened file's device and inode (tracer.verify; agent/tracer/truth.py).
define("fd.dev", "int", arg("fd.dev"))
define("fd.ino", "int", arg("fd.ino"))

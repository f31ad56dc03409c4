"""Decode what the capture core read at a stop into Falco-style fields.

One small function per syscall family, registered in DECODERS by name. Each
gets one record (records.Raw: the six raw arguments plus the strings, addresses
and /proc values the core read, as specs.py asked) and returns the event's
fields. This runs in batches on the pipeline's side, never at the stop.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Callable
from typing import Any

from tracehound.agent.tracer import truth
from tracehound.agent.tracer.flags import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    FD_TYPE_OF_FAMILY,
    L4PROTO,
    PTRACE_REQUESTS,
    SOCK_FAMILY,
    canonical_open_flags,
)
from tracehound.agent.tracer.specs import (
    T_ARGV,
    T_BASE,
    T_FDPATH,
    T_RAW,
    T_SOCKADDR,
    T_SOCKINFO,
    T_STR,
)
from tracehound.agent.tracer.wire import Raw

AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
Fields = dict[str, Any]


def s32(v: int) -> int:
    """A raw argument as a C int (fds, uids given as -1)."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "surrogateescape")


def string(r: Raw, arg: int) -> str | None:
    """A string argument as the core read it (None: unreadable)."""
    return _text(r.blob(T_STR, arg))


def at_path(r: Raw, arg: int, dirfd: int = AT_FDCWD) -> str:
    """A path argument resolved against its dirfd or the cwd, as the kernel would."""
    path = string(r, arg)
    if path is None:
        return "<unreadable>"
    if path.startswith("/"):
        return os.path.normpath(path) if "/." in path or "//" in path else path
    base = _text(r.blob(T_BASE, arg))
    if base is None:
        base = "." if dirfd == AT_FDCWD else f"<fd {dirfd}>"
    if not path:
        return base
    return os.path.normpath(os.path.join(base, path))


def fd_path(r: Raw, arg: int) -> str:
    return _text(r.blob(T_FDPATH, arg)) or f"<fd {s32(r.args[arg])}>"


def argv(r: Raw, arg: int) -> tuple[str, ...]:
    raw = r.blob(T_ARGV, arg)
    if not raw:
        return ()
    return tuple(a.decode("utf-8", "surrogateescape") for a in raw.split(b"\0")[:-1])


def sockaddr(raw: bytes | None) -> Fields:
    if not raw or len(raw) < 2:
        return {}
    family = struct.unpack_from("<H", raw)[0]
    fields: Fields = {"fd.sockfamily": SOCK_FAMILY.get(family, str(family))}
    if family == AF_INET and len(raw) >= 8:
        port = struct.unpack_from(">H", raw, 2)[0]
        ip = socket.inet_ntop(socket.AF_INET, raw[4:8])
        fields.update({"fd.rip": ip, "fd.rport": port, "fd.name": f"{ip}:{port}"})
    elif family == AF_INET6 and len(raw) >= 24:
        port = struct.unpack_from(">H", raw, 2)[0]
        ip = str(ipaddress.IPv6Address(raw[8:24]))
        fields.update({"fd.rip": ip, "fd.rport": port, "fd.name": f"[{ip}]:{port}"})
    elif family == AF_UNIX:
        path = raw[2:]
        if path[:1] == b"\0":  # abstract socket: shown with a leading @
            name = "@" + path[1:].split(b"\0", 1)[0].decode("utf-8", "replace")
        else:
            name = path.split(b"\0", 1)[0].decode("utf-8", "replace")
        fields["fd.name"] = name
    return fields


_SOCKINFO = struct.Struct("<iiiI128sI128s")


def socket_info(r: Raw, arg: int) -> Fields:
    """Protocol and addresses of a tracee's socket, as the core read them (pidfd_getfd)."""
    raw = r.blob(T_SOCKINFO, arg)
    if raw is None or len(raw) < _SOCKINFO.size:
        return {}
    family, _type, proto, llen, laddr, plen, paddr = _SOCKINFO.unpack_from(raw)
    out: Fields = {"fd.type": FD_TYPE_OF_FAMILY.get(family, "socket")}
    if family in (AF_INET, AF_INET6):
        out["fd.l4proto"] = L4PROTO.get(proto, str(proto))
        local = sockaddr(laddr[:llen])
        if "fd.rip" in local:
            out["fd.lip"], out["fd.lport"] = local["fd.rip"], local["fd.rport"]
        peer = sockaddr(paddr[:plen]) if plen else {}
        if "fd.rip" in peer and peer["fd.rport"]:
            out["fd.rip"], out["fd.rport"] = peer["fd.rip"], peer["fd.rport"]
    return out


# --- per-syscall decoders ------------------------------------------------
# Each gets the record (raw arguments plus what the core read, see specs.py).

Decode = Callable[[Raw], Fields]
DECODERS: dict[str, Decode] = {}


def decodes(*names: str) -> Callable[[Decode], Decode]:
    def reg(fn: Decode) -> Decode:
        for n in names:
            DECODERS[n] = fn
        return fn

    return reg


def _open(r: Raw, arg: int, dirfd: int, flags: int) -> Fields:
    # The int, in one layout for every architecture; names only at output.
    fields = {
        "fd.name": at_path(r, arg, dirfd),
        "evt.arg.flags": canonical_open_flags(flags, r.arch),
    }
    # The path as passed (Falco's fd.nameraw: `../` kept), when it is not fd.name.
    raw = string(r, arg)
    if raw is not None and raw != fields["fd.name"]:
        fields["fd.nameraw"] = raw
    if r.has_result:
        truth.opened(r, fields)
    else:
        truth.led_to(r, fields)
    return fields


@decodes("open")
def _d_open(r: Raw) -> Fields:
    return _open(r, 0, AT_FDCWD, r.args[1])


@decodes("creat")
def _d_creat(r: Raw) -> Fields:
    return _open(r, 0, AT_FDCWD, 0o1 | 0o100 | 0o1000)


@decodes("openat")
def _d_openat(r: Raw) -> Fields:
    return _open(r, 1, s32(r.args[0]), r.args[2])


@decodes("openat2")
def _d_openat2(r: Raw) -> Fields:
    how = r.blob(T_RAW, 2)
    flags = struct.unpack("<Q", how)[0] if how and len(how) == 8 else 0
    return _open(r, 1, s32(r.args[0]), flags)


@decodes("execve")
def _d_execve(r: Raw) -> Fields:
    return {"fd.name": at_path(r, 0), "argv": argv(r, 1)}


@decodes("execveat")
def _d_execveat(r: Raw) -> Fields:
    dirfd = s32(r.args[0])
    fields: Fields = {"fd.name": at_path(r, 1, dirfd), "argv": argv(r, 2)}
    if not string(r, 1):
        fields["comm"] = str(dirfd)  # the kernel names such a process after the fd
    return fields


@decodes("connect", "bind")
def _d_connect(r: Raw) -> Fields:
    fields = sockaddr(r.blob(T_SOCKADDR, 1))
    fields["evt.arg.fd"] = s32(r.args[0])
    if "fd.rip" in fields:
        fields["fd.sip"], fields["fd.sport"] = fields["fd.rip"], fields["fd.rport"]
        fields["fd.l4proto"] = socket_info(r, 0).get("fd.l4proto", "unknown")
    if r.has_result:
        truth.connected(r, fields, sockaddr(truth.peer_bytes(r)))
    return fields


@decodes("listen")
def _d_listen(r: Raw) -> Fields:
    info = socket_info(r, 0)
    fields: Fields = {"evt.arg.fd": s32(r.args[0]), "evt.arg.backlog": s32(r.args[1])}
    if "fd.lip" in info:
        fields.update(
            {
                "fd.sip": info["fd.lip"],
                "fd.sport": info["fd.lport"],
                "fd.l4proto": info["fd.l4proto"],
                "fd.name": f"{info['fd.lip']}:{info['fd.lport']}",
            }
        )
    return fields


@decodes("accept", "accept4")
def _d_accept(r: Raw) -> Fields:
    """The peer address is there only when the exit stop was taken."""
    fields: Fields = {"evt.arg.fd": s32(r.args[0])}
    peer = sockaddr(r.blob(T_SOCKADDR, 1))
    if "fd.rip" in peer:
        peer["fd.cip"], peer["fd.cport"] = peer["fd.rip"], peer["fd.rport"]
    fields.update(peer)
    return fields


@decodes("unlink", "rmdir")
def _d_unlink(r: Raw) -> Fields:
    p = at_path(r, 0)
    return {"fd.name": p, "evt.arg.path": p}


@decodes("unlinkat")
def _d_unlinkat(r: Raw) -> Fields:
    p = at_path(r, 1, s32(r.args[0]))
    return {"fd.name": p, "evt.arg.path": p}


def _rename(oldp: str, newp: str) -> Fields:
    return {"fd.name": oldp, "evt.arg.oldpath": oldp, "evt.arg.newpath": newp}


@decodes("rename")
def _d_rename(r: Raw) -> Fields:
    return _rename(at_path(r, 0), at_path(r, 1))


@decodes("renameat", "renameat2")
def _d_renameat(r: Raw) -> Fields:
    return _rename(at_path(r, 1, s32(r.args[0])), at_path(r, 3, s32(r.args[2])))


@decodes("symlink", "link")
def _d_link(r: Raw) -> Fields:
    return {"fd.name": at_path(r, 1), "evt.arg.target": string(r, 0) or ""}


@decodes("symlinkat")
def _d_symlinkat(r: Raw) -> Fields:
    return {"fd.name": at_path(r, 2, s32(r.args[1])), "evt.arg.target": string(r, 0) or ""}


@decodes("linkat")
def _d_linkat(r: Raw) -> Fields:
    return {
        "fd.name": at_path(r, 3, s32(r.args[2])),
        "evt.arg.target": at_path(r, 1, s32(r.args[0])),
    }


@decodes("chmod")
def _d_chmod(r: Raw) -> Fields:
    return {"fd.name": at_path(r, 0), "evt.arg.mode": oct(r.args[1] & 0o7777)}


@decodes("fchmod")
def _d_fchmod(r: Raw) -> Fields:
    return {"fd.name": fd_path(r, 0), "evt.arg.mode": oct(r.args[1] & 0o7777)}


@decodes("fchmodat", "fchmodat2")
def _d_fchmodat(r: Raw) -> Fields:
    return {"fd.name": at_path(r, 1, s32(r.args[0])), "evt.arg.mode": oct(r.args[2] & 0o7777)}


def _owner(name: str, uid: int, gid: int) -> Fields:
    return {"fd.name": name, "evt.arg.uid": s32(uid), "evt.arg.gid": s32(gid)}


@decodes("chown", "lchown")
def _d_chown(r: Raw) -> Fields:
    return _owner(at_path(r, 0), r.args[1], r.args[2])


@decodes("fchown")
def _d_fchown(r: Raw) -> Fields:
    return _owner(fd_path(r, 0), r.args[1], r.args[2])


@decodes("fchownat")
def _d_fchownat(r: Raw) -> Fields:
    return _owner(at_path(r, 1, s32(r.args[0])), r.args[2], r.args[3])


@decodes("setuid", "setfsuid")
def _d_setuid(r: Raw) -> Fields:
    return {"evt.arg.uid": s32(r.args[0])}


@decodes("setgid", "setfsgid")
def _d_setgid(r: Raw) -> Fields:
    return {"evt.arg.gid": s32(r.args[0])}


@decodes("setreuid", "setresuid")
def _d_setreuid(r: Raw) -> Fields:
    # The effective id is what privilege checks use; -1 means "unchanged".
    return {"evt.arg.ruid": s32(r.args[0]), "evt.arg.uid": s32(r.args[1])}


@decodes("setregid", "setresgid")
def _d_setregid(r: Raw) -> Fields:
    return {"evt.arg.rgid": s32(r.args[0]), "evt.arg.gid": s32(r.args[1])}


@decodes("ptrace")
def _d_ptrace(r: Raw) -> Fields:
    req = r.args[0] & 0xFFFFFFFF
    return {"evt.arg.request": PTRACE_REQUESTS.get(req, hex(req)), "evt.arg.pid": s32(r.args[1])}


@decodes("process_vm_writev", "process_vm_readv", "kill", "tkill")
def _d_pid_target(r: Raw) -> Fields:
    return {"evt.arg.pid": s32(r.args[0]), "evt.arg.sig": s32(r.args[1])}


@decodes("tgkill")
def _d_tgkill(r: Raw) -> Fields:
    a = r.args
    return {"evt.arg.pid": s32(a[0]), "evt.arg.tid": s32(a[1]), "evt.arg.sig": s32(a[2])}


@decodes("memfd_create")
def _d_memfd(r: Raw) -> Fields:
    name = string(r, 0) or ""
    return {
        "evt.arg.name": name,
        "fd.name": f"memfd:{name}",
        "evt.arg.flags": r.args[1] & 0xFFFFFFFF,
    }


@decodes("dup2", "dup3")
def _d_dup2(r: Raw) -> Fields:
    old = s32(r.args[0])
    name = fd_path(r, 0)
    fields: Fields = {"evt.arg.fd": old, "evt.arg.newfd": s32(r.args[1]), "fd.name": name}
    if name.startswith("socket:"):
        info = socket_info(r, 0)
        fields.update(info)
        if "fd.rip" in info:
            fields["fd.sip"], fields["fd.sport"] = info["fd.rip"], info["fd.rport"]
    else:
        fields["fd.type"] = "pipe" if name.startswith("pipe:") else "file"
    return fields


@decodes("mount")
def _d_mount(r: Raw) -> Fields:
    return {
        "evt.arg.source": string(r, 0) or "",
        "fd.name": at_path(r, 1),
        "evt.arg.fstype": string(r, 2) or "",
        "evt.arg.flags": r.args[3] & 0xFFFFFFFF,
    }


@decodes("umount2", "umount", "chdir", "chroot", "mkdir", "truncate")
def _d_path0(r: Raw) -> Fields:
    return {"fd.name": at_path(r, 0)}


@decodes("mkdirat")
def _d_mkdirat(r: Raw) -> Fields:
    return {"fd.name": at_path(r, 1, s32(r.args[0]))}


@decodes("fchdir")
def _d_fchdir(r: Raw) -> Fields:
    return {"fd.name": fd_path(r, 0)}


@decodes("init_module")
def _d_init_module(r: Raw) -> Fields:
    return {"evt.arg.len": r.args[1], "evt.arg.params": string(r, 2) or ""}


@decodes("finit_module")
def _d_finit_module(r: Raw) -> Fields:
    return {"fd.name": fd_path(r, 0), "evt.arg.params": string(r, 1) or ""}


@decodes("delete_module")
def _d_delete_module(r: Raw) -> Fields:
    return {"evt.arg.name": string(r, 0) or ""}


@decodes("socket")
def _d_socket(r: Raw) -> Fields:
    fam = r.args[0] & 0xFFFF
    return {"fd.sockfamily": SOCK_FAMILY.get(fam, str(fam)), "evt.arg.type": r.args[1] & 0xF}


@decodes("sendto")
def _d_sendto(r: Raw) -> Fields:
    fields = sockaddr(r.blob(T_SOCKADDR, 4)) if r.args[4] else {}
    fields["evt.arg.fd"] = s32(r.args[0])
    fields["evt.arg.size"] = r.args[2]
    return fields


# --- what the agent's guard stops (guard.py) --------------------------------

_SECCOMP_OPS = {0: "SECCOMP_SET_MODE_STRICT", 1: "SECCOMP_SET_MODE_FILTER", 2: "GET_ACTION_AVAIL"}
_SECCOMP_FLAGS = {1: "TSYNC", 2: "LOG", 4: "SPEC_ALLOW", 8: "NEW_LISTENER", 16: "TSYNC_ESRCH"}
_CLONE_FLAGS = {0x100: "CLONE_VM", 0x10000: "CLONE_THREAD", 0x2000: "CLONE_PTRACE",
                0x800000: "CLONE_UNTRACED", 0x4000: "CLONE_VFORK", 0x10000000: "CLONE_NEWUSER",
                0x20000000: "CLONE_NEWPID"}  # fmt: skip
_PRCTL = {4: "PR_SET_DUMPABLE", 22: "PR_SET_SECCOMP", 38: "PR_SET_NO_NEW_PRIVS",
          1: "PR_SET_PDEATHSIG", 15: "PR_SET_NAME", 36: "PR_SET_CHILD_SUBREAPER"}  # fmt: skip


def _bits(value: int, names: dict[int, str]) -> str:
    return "|".join(n for bit, n in names.items() if value & bit) or "0"


@decodes("seccomp")
def _d_seccomp(r: Raw) -> Fields:
    op = r.args[0] & 0xFFFFFFFF
    flags = _bits(r.args[1] & 0xFFFFFFFF, _SECCOMP_FLAGS)
    return {"evt.arg.op": _SECCOMP_OPS.get(op, str(op)), "evt.arg.flags": flags}


@decodes("io_uring_setup")
def _d_io_uring_setup(r: Raw) -> Fields:
    return {"evt.arg.entries": r.args[0] & 0xFFFFFFFF}


@decodes("prctl")
def _d_prctl(r: Raw) -> Fields:
    option = r.args[0] & 0xFFFFFFFF
    return {"evt.arg.option": _PRCTL.get(option, str(option)), "evt.arg.value": s32(r.args[1])}


@decodes("clone")
def _d_clone(r: Raw) -> Fields:
    return {"evt.arg.flags": _bits(r.args[0], _CLONE_FLAGS)}


@decodes("pidfd_open")
def _d_pidfd_open(r: Raw) -> Fields:
    return {"evt.arg.pid": s32(r.args[0])}


@decodes("pidfd_send_signal")
def _d_pidfd_send_signal(r: Raw) -> Fields:
    return {"evt.arg.fd": s32(r.args[0]), "evt.arg.sig": s32(r.args[1])}


def generic(r: Raw) -> Fields:
    """Syscalls without a decoder of their own (custom lists, unknown numbers)."""
    return {"evt.args": [hex(x) for x in r.args]}

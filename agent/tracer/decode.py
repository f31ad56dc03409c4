"""Decode syscall arguments into Falco-style fields.

One small function per syscall family, registered in DECODERS by name. Each
gets the decoder (memory and /proc helpers), the thread id and the six raw
arguments, and returns the event's fields. Reads are bounded: strings to
arg_max_bytes, argv to argv_max entries.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Callable
from typing import Any

from tracehound.agent.tracer import _ptrace
from tracehound.agent.tracer.flags import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    FD_TYPE_OF_FAMILY,
    L4PROTO,
    PTRACE_REQUESTS,
    SOCK_FAMILY,
    open_flags,
)

AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
Fields = dict[str, Any]


def s32(v: int) -> int:
    """A raw argument as a C int (fds, uids given as -1)."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


class Decoder:
    def __init__(self, argv_max: int, arg_max_bytes: int) -> None:
        self.argv_max = argv_max
        self.mem = _ptrace.MemoryReader(max(arg_max_bytes, 8 * (argv_max + 1)))
        self.arg_max_bytes = arg_max_bytes
        self.ptr_size = 8  # set per stop: 4 for i386 and x32

    # --- paths -----------------------------------------------------------

    def string(self, tid: int, addr: int) -> str | None:
        raw = self.mem.read_cstring(tid, addr, self.arg_max_bytes)
        return None if raw is None else raw.decode("utf-8", "surrogateescape")

    def cwd(self, tid: int) -> str:
        try:
            return os.readlink(f"/proc/{tid}/cwd")
        except OSError:
            return "."

    def fd_path(self, tid: int, fd: int) -> str:
        try:
            return os.readlink(f"/proc/{tid}/fd/{fd}")
        except OSError:
            return f"<fd {fd}>"

    def at_path(self, tid: int, dirfd: int, addr: int) -> str:
        """Resolve a *at() path against dirfd or the cwd, as the kernel would."""
        path = self.string(tid, addr)
        if path is None:
            return "<unreadable>"
        if path.startswith("/"):
            return os.path.normpath(path) if "/." in path or "//" in path else path
        base = self.cwd(tid) if dirfd == AT_FDCWD else self.fd_path(tid, dirfd)
        if not path:
            return base
        return os.path.normpath(os.path.join(base, path))

    def path(self, tid: int, addr: int) -> str:
        return self.at_path(tid, AT_FDCWD, addr)

    def argv(self, tid: int, addr: int) -> tuple[str, ...]:
        if not addr:
            return ()
        size = self.ptr_size
        raw = self.mem.read(tid, addr, size * (self.argv_max + 1))
        if not raw:
            return ()
        fmt = "<I" if size == 4 else "<Q"
        out: list[str] = []
        for off in range(0, len(raw) - size + 1, size):
            (ptr,) = struct.unpack_from(fmt, raw, off)
            if not ptr or len(out) >= self.argv_max:
                break
            out.append(self.string(tid, ptr) or "")
        return tuple(out)

    # --- sockets ---------------------------------------------------------

    def sockaddr(self, tid: int, addr: int, length: int) -> Fields:
        raw = self.mem.read(tid, addr, min(length, 128))
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

    def socket_info(self, pid: int, fd: int) -> Fields:
        """Protocol and local address of a tracee's socket, via pidfd_getfd."""
        try:
            pidfd = _ptrace.pidfd_open(pid)
        except OSError:
            return {}
        try:
            local = _ptrace.pidfd_getfd(pidfd, fd)
        except OSError:
            return {}
        finally:
            os.close(pidfd)
        try:
            sock = socket.socket(fileno=local)
        except OSError:
            os.close(local)
            return {"fd.type": "file"}
        try:
            out: Fields = {"fd.type": FD_TYPE_OF_FAMILY.get(sock.family, "socket")}
            proto = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)
            if sock.family in (AF_INET, AF_INET6):
                out["fd.l4proto"] = L4PROTO.get(proto, str(proto))
                laddr = sock.getsockname()
                out["fd.lip"], out["fd.lport"] = laddr[0], laddr[1]
                try:
                    raddr = sock.getpeername()
                    out["fd.rip"], out["fd.rport"] = raddr[0], raddr[1]
                except OSError:
                    pass
            return out
        except OSError:
            return out
        finally:
            sock.close()


# --- per-syscall decoders ------------------------------------------------

Decode = Callable[[Decoder, int, int, tuple[int, ...]], Fields]
DECODERS: dict[str, Decode] = {}


def decodes(*names: str) -> Callable[[Decode], Decode]:
    def reg(fn: Decode) -> Decode:
        for n in names:
            DECODERS[n] = fn
        return fn

    return reg


def _open(d: Decoder, tid: int, dirfd: int, path_addr: int, flags: int) -> Fields:
    return {"fd.name": d.at_path(tid, dirfd, path_addr), "evt.arg.flags": open_flags(flags)}


@decodes("open")
def _d_open(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return _open(d, tid, AT_FDCWD, a[0], a[1])


@decodes("creat")
def _d_creat(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return _open(d, tid, AT_FDCWD, a[0], 0o1 | 0o100 | 0o1000)


@decodes("openat")
def _d_openat(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return _open(d, tid, s32(a[0]), a[1], a[2])


@decodes("openat2")
def _d_openat2(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    how = d.mem.read(tid, a[2], 8)
    flags = struct.unpack("<Q", how)[0] if how and len(how) == 8 else 0
    return _open(d, tid, s32(a[0]), a[1], flags)


@decodes("execve")
def _d_execve(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"fd.name": d.path(tid, a[0]), "argv": d.argv(tid, a[1])}


@decodes("execveat")
def _d_execveat(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    dirfd = s32(a[0])
    name = d.string(tid, a[1]) or ""
    path = (
        d.fd_path(tid, dirfd) if not name and a[4] & AT_EMPTY_PATH else d.at_path(tid, dirfd, a[1])
    )
    fields: Fields = {"fd.name": path, "argv": d.argv(tid, a[2])}
    if not name:
        fields["comm"] = str(dirfd)  # the kernel names such a process after the fd
    return fields


@decodes("connect", "bind")
def _d_connect(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    fields = d.sockaddr(tid, a[1], a[2])
    fields["evt.arg.fd"] = s32(a[0])
    if "fd.rip" in fields:
        fields["fd.sip"], fields["fd.sport"] = fields["fd.rip"], fields["fd.rport"]
        fields["fd.l4proto"] = d.socket_info(pid, s32(a[0])).get("fd.l4proto", "unknown")
    return fields


@decodes("listen")
def _d_listen(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    info = d.socket_info(pid, s32(a[0]))
    fields: Fields = {"evt.arg.fd": s32(a[0]), "evt.arg.backlog": s32(a[1])}
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


def accept_result(d: Decoder, tid: int, a: tuple[int, ...], res: int) -> Fields:
    """accept/accept4 at the exit stop: the peer address is only there now."""
    fields: Fields = {"evt.arg.fd": s32(a[0]), "evt.res": res}
    if res < 0 or not a[1] or not a[2]:
        return fields
    raw_len = d.mem.read(tid, a[2], 4)
    if raw_len and len(raw_len) == 4:
        peer = d.sockaddr(tid, a[1], struct.unpack("<I", raw_len)[0])
        if "fd.rip" in peer:
            peer["fd.cip"], peer["fd.cport"] = peer["fd.rip"], peer["fd.rport"]
        fields.update(peer)
    return fields


@decodes("accept", "accept4")
def _d_accept(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"evt.arg.fd": s32(a[0])}  # the address comes with the exit stop


@decodes("unlink", "rmdir")
def _d_unlink(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    p = d.path(tid, a[0])
    return {"fd.name": p, "evt.arg.path": p}


@decodes("unlinkat")
def _d_unlinkat(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    p = d.at_path(tid, s32(a[0]), a[1])
    return {"fd.name": p, "evt.arg.path": p}


def _rename(d: Decoder, tid: int, olddir: int, old: int, newdir: int, new: int) -> Fields:
    oldp, newp = d.at_path(tid, olddir, old), d.at_path(tid, newdir, new)
    return {"fd.name": oldp, "evt.arg.oldpath": oldp, "evt.arg.newpath": newp}


@decodes("rename")
def _d_rename(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return _rename(d, tid, AT_FDCWD, a[0], AT_FDCWD, a[1])


@decodes("renameat", "renameat2")
def _d_renameat(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return _rename(d, tid, s32(a[0]), a[1], s32(a[2]), a[3])


@decodes("symlink", "link")
def _d_link(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    target = d.string(tid, a[0]) or ""
    p = d.path(tid, a[1])
    return {"fd.name": p, "evt.arg.target": target}


@decodes("symlinkat")
def _d_symlinkat(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"fd.name": d.at_path(tid, s32(a[1]), a[2]), "evt.arg.target": d.string(tid, a[0]) or ""}


@decodes("linkat")
def _d_linkat(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {
        "fd.name": d.at_path(tid, s32(a[2]), a[3]),
        "evt.arg.target": d.at_path(tid, s32(a[0]), a[1]),
    }


@decodes("chmod")
def _d_chmod(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"fd.name": d.path(tid, a[0]), "evt.arg.mode": oct(a[1] & 0o7777)}


@decodes("fchmod")
def _d_fchmod(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"fd.name": d.fd_path(tid, s32(a[0])), "evt.arg.mode": oct(a[1] & 0o7777)}


@decodes("fchmodat", "fchmodat2")
def _d_fchmodat(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"fd.name": d.at_path(tid, s32(a[0]), a[1]), "evt.arg.mode": oct(a[2] & 0o7777)}


@decodes("chown", "lchown")
def _d_chown(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"fd.name": d.path(tid, a[0]), "evt.arg.uid": s32(a[1]), "evt.arg.gid": s32(a[2])}


@decodes("fchown")
def _d_fchown(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {
        "fd.name": d.fd_path(tid, s32(a[0])),
        "evt.arg.uid": s32(a[1]),
        "evt.arg.gid": s32(a[2]),
    }


@decodes("fchownat")
def _d_fchownat(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {
        "fd.name": d.at_path(tid, s32(a[0]), a[1]),
        "evt.arg.uid": s32(a[2]),
        "evt.arg.gid": s32(a[3]),
    }


@decodes("setuid", "setfsuid")
def _d_setuid(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"evt.arg.uid": s32(a[0])}


@decodes("setgid", "setfsgid")
def _d_setgid(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"evt.arg.gid": s32(a[0])}


@decodes("setreuid", "setresuid")
def _d_setreuid(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    # The effective id is what privilege checks use; -1 means "unchanged".
    return {"evt.arg.ruid": s32(a[0]), "evt.arg.uid": s32(a[1])}


@decodes("setregid", "setresgid")
def _d_setregid(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"evt.arg.rgid": s32(a[0]), "evt.arg.gid": s32(a[1])}


@decodes("ptrace")
def _d_ptrace(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    req = a[0] & 0xFFFFFFFF
    return {"evt.arg.request": PTRACE_REQUESTS.get(req, hex(req)), "evt.arg.pid": s32(a[1])}


@decodes("process_vm_writev", "process_vm_readv", "kill", "tkill")
def _d_pid_target(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"evt.arg.pid": s32(a[0]), "evt.arg.sig": s32(a[1])}


@decodes("tgkill")
def _d_tgkill(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"evt.arg.pid": s32(a[0]), "evt.arg.tid": s32(a[1]), "evt.arg.sig": s32(a[2])}


@decodes("memfd_create")
def _d_memfd(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    name = d.string(tid, a[0]) or ""
    return {"evt.arg.name": name, "fd.name": f"memfd:{name}", "evt.arg.flags": a[1] & 0xFFFFFFFF}


@decodes("dup2", "dup3")
def _d_dup2(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    old = s32(a[0])
    fields: Fields = {"evt.arg.fd": old, "evt.arg.newfd": s32(a[1]), "fd.name": d.fd_path(tid, old)}
    if fields["fd.name"].startswith("socket:"):
        info = d.socket_info(pid, old)
        fields.update(info)
        if "fd.rip" in info:
            fields["fd.sip"], fields["fd.sport"] = info["fd.rip"], info["fd.rport"]
    else:
        fields["fd.type"] = "pipe" if fields["fd.name"].startswith("pipe:") else "file"
    return fields


@decodes("mount")
def _d_mount(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {
        "evt.arg.source": d.string(tid, a[0]) or "",
        "fd.name": d.path(tid, a[1]),
        "evt.arg.fstype": d.string(tid, a[2]) or "",
        "evt.arg.flags": a[3] & 0xFFFFFFFF,
    }


@decodes("umount2", "umount", "chdir", "chroot", "mkdir", "truncate")
def _d_path0(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"fd.name": d.path(tid, a[0])}


@decodes("mkdirat")
def _d_mkdirat(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"fd.name": d.at_path(tid, s32(a[0]), a[1])}


@decodes("fchdir")
def _d_fchdir(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"fd.name": d.fd_path(tid, s32(a[0]))}


@decodes("init_module")
def _d_init_module(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"evt.arg.len": a[1], "evt.arg.params": d.string(tid, a[2]) or ""}


@decodes("finit_module")
def _d_finit_module(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"fd.name": d.fd_path(tid, s32(a[0])), "evt.arg.params": d.string(tid, a[1]) or ""}


@decodes("delete_module")
def _d_delete_module(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    return {"evt.arg.name": d.string(tid, a[0]) or ""}


@decodes("socket")
def _d_socket(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    fam = a[0] & 0xFFFF
    return {"fd.sockfamily": SOCK_FAMILY.get(fam, str(fam)), "evt.arg.type": a[1] & 0xF}


@decodes("sendto")
def _d_sendto(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    fields = d.sockaddr(tid, a[4], a[5]) if a[4] else {}
    fields["evt.arg.fd"] = s32(a[0])
    fields["evt.arg.size"] = a[2]
    return fields


def generic(d: Decoder, tid: int, pid: int, a: tuple[int, ...]) -> Fields:
    """Syscalls without a decoder of their own (custom lists, unknown numbers)."""
    return {"evt.args": [hex(x) for x in a]}

"""The thin ctypes layer python-ptrace lacks: SEIZE, GET_SYSCALL_INFO, LISTEN,
process_vm_readv, pidfd_getfd, prctl and seccomp.

Every call here is on the tracer's hot path or between fork and exec, so the
structures are allocated once and reused, and errors come back as return
values where the caller has a cheap fallback.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct

_libc = ctypes.CDLL(None, use_errno=True)

# ptrace requests (linux/ptrace.h)
PTRACE_CONT = 7
PTRACE_KILL = 8
PTRACE_DETACH = 17
PTRACE_SYSCALL = 24
PTRACE_GETEVENTMSG = 0x4201
PTRACE_GETSIGINFO = 0x4202
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_LISTEN = 0x4208
PTRACE_GET_SYSCALL_INFO = 0x420E

# options
PTRACE_O_TRACESYSGOOD = 0x01
PTRACE_O_TRACEFORK = 0x02
PTRACE_O_TRACEVFORK = 0x04
PTRACE_O_TRACECLONE = 0x08
PTRACE_O_TRACEEXEC = 0x10
PTRACE_O_TRACESECCOMP = 0x80
PTRACE_O_EXITKILL = 0x100000

# events (status >> 16)
PTRACE_EVENT_FORK = 1
PTRACE_EVENT_VFORK = 2
PTRACE_EVENT_CLONE = 3
PTRACE_EVENT_EXEC = 4
PTRACE_EVENT_SECCOMP = 7
PTRACE_EVENT_STOP = 128

# ptrace_syscall_info.op
SYSCALL_INFO_ENTRY = 1
SYSCALL_INFO_EXIT = 2
SYSCALL_INFO_SECCOMP = 3

# audit architectures (linux/audit.h)
AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
AUDIT_ARCH_AARCH64 = 0xC00000B7
X32_SYSCALL_BIT = 0x40000000

WALL = 0x40000000  # __WALL: wait for threads and non-SIGCHLD children too

PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
SECCOMP_SET_MODE_FILTER = 1

_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}
_SYS_PIDFD_OPEN = 434
_SYS_PIDFD_GETFD = 438


class IOVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]


_ptrace = _libc.ptrace
_ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
_ptrace.restype = ctypes.c_long

_vm_readv = _libc.process_vm_readv
_vm_readv.argtypes = [
    ctypes.c_int,
    ctypes.POINTER(IOVec),
    ctypes.c_ulong,
    ctypes.POINTER(IOVec),
    ctypes.c_ulong,
    ctypes.c_ulong,
]
_vm_readv.restype = ctypes.c_ssize_t

_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_prctl = _libc.prctl
_prctl.restype = ctypes.c_int


class PtraceError(OSError):
    pass


def _check(ret: int) -> int:
    if ret == -1:
        err = ctypes.get_errno()
        raise PtraceError(err, os.strerror(err))
    return ret


def ptrace(request: int, pid: int, addr: int = 0, data: int = 0) -> int:
    return _check(_ptrace(request, pid, addr, data))


def resume(request: int, tid: int, sig: int = 0) -> bool:
    """PTRACE_CONT / SYSCALL / LISTEN; False if the tracee vanished (ESRCH)."""
    return _ptrace(request, tid, 0, sig) != -1


def seize(pid: int, options: int) -> None:
    ptrace(PTRACE_SEIZE, pid, 0, options)


_eventmsg = ctypes.c_ulong()
_eventmsg_ref = ctypes.addressof(_eventmsg)


def get_event_msg(tid: int) -> int:
    ptrace(PTRACE_GETEVENTMSG, tid, 0, _eventmsg_ref)
    return _eventmsg.value


# struct ptrace_syscall_info (88 bytes) as one unpack: u8 op, 3 pad, u32 arch,
# u64 instruction_pointer, u64 stack_pointer, then the union: for entry and
# seccomp stops u64 nr, u64 args[6], u32 ret_data; for exit stops s64 rval
# (where nr is) and u8 is_error (the low byte of args[0]).
_SYSCALL_INFO = struct.Struct("<B3xIQQQ6QI4x")
assert _SYSCALL_INFO.size == 88

SyscallInfoTuple = tuple[int, int, int, int, int, int, int, int, int, int, int, int]


class SyscallInfoReader:
    """One reusable buffer for PTRACE_GET_SYSCALL_INFO (one call per stop).

    Returns the fields as one tuple: a single struct unpack costs far less than
    reading ctypes fields one attribute at a time on every stop.
    """

    def __init__(self) -> None:
        self._buf = ctypes.create_string_buffer(_SYSCALL_INFO.size)
        self._addr = ctypes.addressof(self._buf)
        self._unpack = _SYSCALL_INFO.unpack_from

    def read(self, tid: int) -> SyscallInfoTuple | None:
        if _ptrace(PTRACE_GET_SYSCALL_INFO, tid, _SYSCALL_INFO.size, self._addr) <= 0:
            return None
        return self._unpack(self._buf)


class MemoryReader:
    """Bounded reads of tracee memory with process_vm_readv (no PEEKDATA loops).

    Measured here: one process_vm_readv through ctypes costs the same as a
    pread of /proc/TID/mem (about 5 us, nearly all of it the syscall), so the
    count of reads per stop is what matters: one for most strings.
    """

    PAGE = os.sysconf("SC_PAGE_SIZE")
    FIRST_READ = 256  # most paths are short: a small read first, then whole pages

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._buf = ctypes.create_string_buffer(max_bytes)
        self._addr = ctypes.addressof(self._buf)
        self._local = IOVec(self._addr, 0)
        self._remote = IOVec(0, 0)
        self._local_p = ctypes.pointer(self._local)
        self._remote_p = ctypes.pointer(self._remote)

    def read(self, pid: int, addr: int, size: int) -> bytes | None:
        size = min(size, self.max_bytes)
        if addr == 0 or size <= 0:
            return None
        self._local.len = size
        self._remote.base = addr
        self._remote.len = size
        n = _vm_readv(pid, self._local_p, 1, self._remote_p, 1, 0)
        if n <= 0:
            return None
        return ctypes.string_at(self._addr, n)  # copies n bytes, not the whole buffer

    def read_cstring(self, pid: int, addr: int, limit: int = 0) -> bytes | None:
        """A NUL-terminated string, read within page boundaries so an unmapped
        page after the string does not fail the whole read."""
        if addr == 0:
            return None
        limit = min(limit or self.max_bytes, self.max_bytes)
        out = b""
        first = self.FIRST_READ
        while len(out) < limit:
            chunk = min(self.PAGE - (addr % self.PAGE), limit - len(out), first)
            first = self.PAGE
            data = self.read(pid, addr, chunk)
            if not data:
                return out if out else None
            nul = data.find(b"\0")
            if nul != -1:
                return out + data[:nul]
            out += data
            addr += len(data)
        return out


def pidfd_open(pid: int) -> int:
    return _check(_syscall(_SYS_PIDFD_OPEN, pid, 0))


def pidfd_getfd(pidfd: int, fd: int) -> int:
    """Duplicate the tracee's fd into the agent (needs PTRACE_MODE_ATTACH, which the tracer has)."""
    return _check(_syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0))


def prctl(option: int, arg2: int = 0) -> int:
    return _check(_prctl(option, ctypes.c_ulong(arg2), 0, 0, 0))


def install_seccomp(prog: SockFprog) -> None:
    nr = _SYS_SECCOMP.get(platform.machine())
    if nr is None:
        raise OSError(f"seccomp: unsupported machine {platform.machine()}")
    _check(_syscall(nr, SECCOMP_SET_MODE_FILTER, 0, ctypes.byref(prog)))

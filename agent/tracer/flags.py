"""Names for numeric arguments: open flags, ptrace requests, socket families."""

from __future__ import annotations

from functools import lru_cache

_OPEN_BITS = (
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o40000, "O_DIRECT"),
    (0o100000, "O_LARGEFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o10000000, "O_PATH"),
)
# arm64 (arch/arm64/include/uapi/asm/fcntl.h) moves four bits; the rest are
# asm-generic's, as on x86. tests/arm64/ checks both against the kernel headers.
_ARM64_MOVED = {
    "O_DIRECTORY": 0o40000,
    "O_NOFOLLOW": 0o100000,
    "O_DIRECT": 0o200000,
    "O_LARGEFILE": 0o400000,
}
_OPEN_BITS_ARM64 = tuple(sorted(((_ARM64_MOVED.get(name, bit), name) for bit, name in _OPEN_BITS)))
_O_SYNC = 0o4010000  # __O_SYNC | O_DSYNC
_O_DSYNC = 0o10000
_O_TMPFILE = 0o20000000 | 0o200000  # __O_TMPFILE | O_DIRECTORY
_O_TMPFILE_ARM64 = 0o20000000 | 0o40000
_ACCMODE = ("O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE")

WRITE_ACCESS = 0o1 | 0o2  # O_WRONLY | O_RDWR


@lru_cache(maxsize=1024)
def open_flags(flags: int, arch: str = "x86_64") -> str:
    """'O_WRONLY|O_CREAT|O_TRUNC' as strace and Falco write them; `arch` is the
    caller's syscall ABI (syscalls.TABLES' names: aarch64 has its own bits)."""
    arm = arch == "aarch64"
    bits, tmpfile = (_OPEN_BITS_ARM64, _O_TMPFILE_ARM64) if arm else (_OPEN_BITS, _O_TMPFILE)
    names = [_ACCMODE[flags & 3]]
    rest = flags & ~3
    if rest & tmpfile == tmpfile:
        names.append("O_TMPFILE")
        rest &= ~tmpfile
    if rest & _O_SYNC == _O_SYNC:
        names.append("O_SYNC")
        rest &= ~_O_SYNC
    elif rest & _O_DSYNC:
        names.append("O_DSYNC")
        rest &= ~_O_DSYNC
    for bit, name in bits:
        if rest & bit:
            names.append(name)
            rest &= ~bit
    if rest:
        names.append(hex(rest))
    return "|".join(names)


PTRACE_REQUESTS = {
    0: "PTRACE_TRACEME",
    1: "PTRACE_PEEKTEXT",
    2: "PTRACE_PEEKDATA",
    3: "PTRACE_PEEKUSR",
    4: "PTRACE_POKETEXT",
    5: "PTRACE_POKEDATA",
    6: "PTRACE_POKEUSR",
    7: "PTRACE_CONT",
    8: "PTRACE_KILL",
    9: "PTRACE_SINGLESTEP",
    12: "PTRACE_GETREGS",
    13: "PTRACE_SETREGS",
    14: "PTRACE_GETFPREGS",
    15: "PTRACE_SETFPREGS",
    16: "PTRACE_ATTACH",
    17: "PTRACE_DETACH",
    24: "PTRACE_SYSCALL",
    0x4200: "PTRACE_SETOPTIONS",
    0x4201: "PTRACE_GETEVENTMSG",
    0x4202: "PTRACE_GETSIGINFO",
    0x4203: "PTRACE_SETSIGINFO",
    0x4204: "PTRACE_GETREGSET",
    0x4205: "PTRACE_SETREGSET",
    0x4206: "PTRACE_SEIZE",
    0x4207: "PTRACE_INTERRUPT",
    0x4208: "PTRACE_LISTEN",
    0x420E: "PTRACE_GET_SYSCALL_INFO",
}

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
SOCK_FAMILY = {AF_UNIX: "unix", AF_INET: "ip", AF_INET6: "ip6"}
FD_TYPE_OF_FAMILY = {AF_UNIX: "unix", AF_INET: "ipv4", AF_INET6: "ipv6"}
L4PROTO = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp", 132: "sctp"}

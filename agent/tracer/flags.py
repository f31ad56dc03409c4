"""Numeric arguments: open flags per architecture, names of ptrace requests and socket
families."""

from __future__ import annotations

from tracehound.agent.tracer._ptrace import AUDIT_ARCH_AARCH64

# aarch64's asm/fcntl.h moves four bits of the asm-generic layout events use
# (tracehound.openflags): (aarch64 bit, generic bit) for O_DIRECTORY, O_NOFOLLOW,
# O_DIRECT and O_LARGEFILE. Every other flag, and every other architecture we trace
# (x86_64, i386, x32), uses the generic values.
_AARCH64_MOVED = (
    (0o40000, 0o200000),
    (0o100000, 0o400000),
    (0o200000, 0o40000),
    (0o400000, 0o100000),
)
_AARCH64_MASK = 0o40000 | 0o100000 | 0o200000 | 0o400000


def canonical_open_flags(flags: int, arch: int) -> int:
    """The tracee's open flags in the generic layout, whatever its architecture."""
    if arch != AUDIT_ARCH_AARCH64 or not flags & _AARCH64_MASK:
        return flags
    out = flags & ~_AARCH64_MASK
    for native, generic in _AARCH64_MOVED:
        if flags & native:
            out |= generic
    return out


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

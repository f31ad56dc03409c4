"""Open flags: the int events carry, and its names, formatted only for output.

Events keep open(2) flags as an int in the asm-generic layout (what x86_64, i386 and
x32 use). Architectures whose values differ (aarch64: O_DIRECTORY, O_NOFOLLOW,
O_DIRECT, O_LARGEFILE) are converted to it once, when the tracer decodes the
syscall (agent/tracer/flags.py); stages test bits, and only rule outputs and
records turn the int into "O_WRONLY|O_CREAT" as strace and Falco write it.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = [
    "O_ACCMODE",
    "O_CREAT",
    "O_DIRECTORY",
    "O_RDWR",
    "O_TMPFILE",
    "O_TRUNC",
    "O_WRONLY",
    "format_open_flags",
    "is_directory",
    "is_write",
    "parse_open_flags",
]

O_WRONLY, O_RDWR, O_ACCMODE = 0o1, 0o2, 0o3
O_CREAT, O_TRUNC = 0o100, 0o1000
O_DIRECTORY = 0o200000
O_TMPFILE = 0o20000000 | O_DIRECTORY  # __O_TMPFILE | O_DIRECTORY, as the kernel defines it
_O_SYNC = 0o4010000  # __O_SYNC | O_DSYNC
_O_DSYNC = 0o10000

# asm-generic/fcntl.h, in the order strace prints them.
BITS: tuple[tuple[int, str], ...] = (
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
_ACCMODE_NAMES = ("O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE")


def is_write(flags: int) -> bool:
    """Asks for write access (O_WRONLY or O_RDWR)."""
    return flags & O_ACCMODE in (O_WRONLY, O_RDWR)


def is_directory(flags: int) -> bool:
    """O_DIRECTORY, and not as part of O_TMPFILE (which opens an unnamed file)."""
    return bool(flags & O_DIRECTORY) and flags & O_TMPFILE != O_TMPFILE


@lru_cache(maxsize=1024)
def format_open_flags(flags: int) -> str:
    """'O_WRONLY|O_CREAT|O_TRUNC' as strace and Falco write them."""
    names = [_ACCMODE_NAMES[flags & O_ACCMODE]]
    rest = flags & ~O_ACCMODE
    if rest & O_TMPFILE == O_TMPFILE:
        names.append("O_TMPFILE")
        rest &= ~O_TMPFILE
    if rest & _O_SYNC == _O_SYNC:
        names.append("O_SYNC")
        rest &= ~_O_SYNC
    elif rest & _O_DSYNC:
        names.append("O_DSYNC")
        rest &= ~_O_DSYNC
    for bit, name in BITS:
        if rest & bit:
            names.append(name)
            rest &= ~bit
    if rest:
        names.append(hex(rest))
    return "|".join(names)


_BY_NAME = {name: bit for bit, name in BITS} | {
    "O_RDONLY": 0,
    "O_WRONLY": O_WRONLY,
    "O_RDWR": O_RDWR,
    "O_ACCMODE": O_ACCMODE,
    "O_TMPFILE": O_TMPFILE,
    "O_SYNC": _O_SYNC,
    "O_DSYNC": _O_DSYNC,
}


def parse_open_flags(text: str) -> int:
    """The inverse of format_open_flags ("O_WRONLY|O_CREAT" -> 0o101)."""
    value = 0
    for part in text.split("|"):
        part = part.strip()
        value |= int(part, 16) if part.startswith("0x") else _BY_NAME[part]
    return value

"""Which syscalls stop the application, per profile.

Each profile is a set of syscall names (normalised, see syscalls.ALIASES).
Some names carry a BPF argument check (see seccomp.ARG_CHECKS): dup2/dup3 only
stop when the new fd is 0, 1 or 2, and in the minimal profile open/openat only
stop when the flags ask for writing.
"""

from __future__ import annotations

from collections.abc import Iterable

from tracehound.agent.tracer.syscalls import ALL_NAMES
from tracehound.families import (
    CONNECT,
    EXEC,
    FILE_CHANGE,
    FILELESS,
    NET_IN,
    OPEN,
    PRIVILEGE,
    SEND,
)

# open_by_handle_at needs CAP_DAC_READ_SEARCH: rare enough to wait for "aggressive".
_OPEN = OPEN - {"open_by_handle_at"}
# Rare syscalls the default rules look for: a stop costs nothing until one is made.
_RARE = {"userfaultfd", "fsmount", "move_mount"}
_MORE = SEND | {
    "socket", "socketpair",
    "mkdir", "mkdirat", "symlink", "symlinkat", "link", "linkat",
    "truncate", "chdir", "fchdir", "chroot", "pivot_root",
    "kill", "tkill", "tgkill", "prctl", "seccomp", "bpf", "setns", "unshare",
    "capset", "setgroups", "sethostname", "personality", "process_vm_readv",
    "io_uring_setup", "perf_event_open", "keyctl", "add_key", "request_key",
    "kexec_load", "kexec_file_load", "open_by_handle_at", "name_to_handle_at",
}  # fmt: skip

PROFILES: dict[str, frozenset[str]] = {
    # Opens are in minimal too, but only those asking for write access stop.
    "minimal": frozenset(EXEC | PRIVILEGE | FILELESS | _RARE | _OPEN | CONNECT),
    "balanced": frozenset(
        EXEC | PRIVILEGE | FILELESS | _RARE | _OPEN | CONNECT | NET_IN | FILE_CHANGE
    ),
    "aggressive": frozenset(
        EXEC | PRIVILEGE | FILELESS | _RARE | _OPEN | CONNECT | NET_IN | FILE_CHANGE | _MORE
    ),
}

# Profiles whose open/openat/creat stop only when write access is asked for.
WRITE_ONLY_OPENS = frozenset({"minimal"})


def unknown_syscalls(names: Iterable[str]) -> list[str]:
    return [n for n in names if n not in ALL_NAMES]


def resolve(profile: str, custom: Iterable[str] = ()) -> frozenset[str]:
    if profile == "custom":
        return frozenset(custom)
    return PROFILES[profile]

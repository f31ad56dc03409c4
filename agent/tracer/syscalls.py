"""Syscall number tables per architecture, names normalised across them.

python-ptrace's tables stop at kernel 5.8 for x86_64 and well before that for
i386, so the numbers added since are listed here (they are the same on every
architecture from 424 on). tests/agent/test_syscall_tables.py checks the result
against the kernel headers of this machine.
"""

from __future__ import annotations

from ptrace.syscall.linux import aarch64 as _aarch64
from ptrace.syscall.linux import i386 as _i386
from ptrace.syscall.linux import x86_64 as _x86_64

from tracehound.agent.tracer._ptrace import AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64

# Numbers >= 424 are shared by all architectures.
_UNIFIED_NEW = {
    440: "process_madvise",  # python-ptrace's aarch64 table ends at 439
    441: "epoll_pwait2",
    442: "mount_setattr",
    443: "quotactl_fd",
    444: "landlock_create_ruleset",
    445: "landlock_add_rule",
    446: "landlock_restrict_self",
    447: "memfd_secret",
    448: "process_mrelease",
    449: "futex_waitv",
    450: "set_mempolicy_home_node",
    451: "cachestat",
    452: "fchmodat2",
    453: "map_shadow_stack",
    454: "futex_wake",
    455: "futex_wait",
    456: "futex_requeue",
    457: "statmount",
    458: "listmount",
    459: "lsm_get_self_attr",
    460: "lsm_set_self_attr",
    461: "lsm_list_modules",
    462: "mseal",
    463: "setxattrat",
    464: "getxattrat",
    465: "listxattrat",
    466: "removexattrat",
    467: "open_tree_attr",
}

# i386 numbers 320..423 (python-ptrace's i386 table ends at 319).
_I386_NEW = {
    320: "utimensat", 321: "signalfd", 322: "timerfd_create", 323: "eventfd",
    324: "fallocate", 325: "timerfd_settime", 326: "timerfd_gettime", 327: "signalfd4",
    328: "eventfd2", 329: "epoll_create1", 330: "dup3", 331: "pipe2", 332: "inotify_init1",
    333: "preadv", 334: "pwritev", 335: "rt_tgsigqueueinfo", 336: "perf_event_open",
    337: "recvmmsg", 338: "fanotify_init", 339: "fanotify_mark", 340: "prlimit64",
    341: "name_to_handle_at", 342: "open_by_handle_at", 343: "clock_adjtime", 344: "syncfs",
    345: "sendmmsg", 346: "setns", 347: "process_vm_readv", 348: "process_vm_writev",
    349: "kcmp", 350: "finit_module", 351: "sched_setattr", 352: "sched_getattr",
    353: "renameat2", 354: "seccomp", 355: "getrandom", 356: "memfd_create", 357: "bpf",
    358: "execveat", 359: "socket", 360: "socketpair", 361: "bind", 362: "connect",
    363: "listen", 364: "accept4", 365: "getsockopt", 366: "setsockopt", 367: "getsockname",
    368: "getpeername", 369: "sendto", 370: "sendmsg", 371: "recvfrom", 372: "recvmsg",
    373: "shutdown", 374: "userfaultfd", 375: "membarrier", 376: "mlock2",
    377: "copy_file_range", 378: "preadv2", 379: "pwritev2", 380: "pkey_mprotect",
    381: "pkey_alloc", 382: "pkey_free", 383: "statx", 384: "arch_prctl",
    385: "io_pgetevents", 386: "rseq", 393: "semget", 394: "semctl", 395: "shmget",
    396: "shmctl", 397: "shmat", 398: "shmdt", 399: "msgget", 400: "msgsnd", 401: "msgrcv",
    402: "msgctl", 403: "clock_gettime64", 404: "clock_settime64", 405: "clock_adjtime64",
    406: "clock_getres_time64", 407: "clock_nanosleep_time64", 408: "timer_gettime64",
    409: "timer_settime64", 410: "timerfd_gettime64", 411: "timerfd_settime64",
    412: "utimensat_time64", 413: "pselect6_time64", 414: "ppoll_time64",
    416: "io_pgetevents_time64", 417: "recvmmsg_time64", 418: "mq_timedsend_time64",
    419: "mq_timedreceive_time64", 420: "semtimedop_time64", 421: "rt_sigtimedwait_time64",
    422: "futex_time64", 423: "sched_rr_get_interval_time64",
}  # fmt: skip

# i386 spellings of the same operation; events use the common name, as Falco does.
ALIASES = {
    "chown32": "chown",
    "lchown32": "lchown",
    "fchown32": "fchown",
    "setuid32": "setuid",
    "setgid32": "setgid",
    "setreuid32": "setreuid",
    "setregid32": "setregid",
    "setresuid32": "setresuid",
    "setresgid32": "setresgid",
    "setfsuid32": "setfsuid",
    "setfsgid32": "setfsgid",
    "setgroups32": "setgroups",
}


# python-ptrace's i386 table uses the kernel's internal names for two old calls.
_I386_FIXES = {22: "umount", 52: "umount2"}


def canonical(name: str) -> str:
    """chown32 and chown16 (the i386 uid-width variants) are both chown."""
    if name.endswith("16") and name[:-2] in _UID16_BASES:
        return name[:-2]
    return ALIASES.get(name, name)


_UID16_BASES = {
    "chown", "lchown", "fchown", "setuid", "getuid", "setgid", "getgid", "geteuid", "getegid",
    "setreuid", "setregid", "setresuid", "getresuid", "setresgid", "getresgid",
    "setfsuid", "setfsgid", "getgroups", "setgroups",
}  # fmt: skip


def _table(
    base: dict[int, str], *extra: dict[int, str], below: int | None = None
) -> dict[int, str]:
    out = {nr: canonical(name) for nr, name in base.items() if below is None or nr < below}
    for e in extra:
        for nr, name in e.items():
            out.setdefault(nr, name)
    return out


# x86_64: numbers from 512 up are x32-only, not valid in the 64-bit ABI.
X86_64 = _table(_x86_64.SYSCALL_NAMES, _UNIFIED_NEW, below=512)
I386 = _table(
    _i386.SYSCALL_NAMES | _I386_FIXES, _I386_NEW, {k: v for k, v in X86_64.items() if k >= 424}
)
# x32 (nr | 0x40000000): the x86_64 numbers, except that the 512+ entries replace
# the 64-bit versions of calls whose structures differ (execve is 520 there).
_X32_REPLACED = {name for nr, name in _x86_64.SYSCALL_NAMES.items() if nr >= 512}
X32 = {
    nr: name
    for nr, name in _table(_x86_64.SYSCALL_NAMES, _UNIFIED_NEW).items()
    if nr >= 512 or name not in _X32_REPLACED
}

AARCH64 = _table(_aarch64.SYSCALL_NAMES, _UNIFIED_NEW)

TABLES: dict[str, dict[int, str]] = {"x86_64": X86_64, "i386": I386, "x32": X32, "aarch64": AARCH64}
ARCH_OF_AUDIT = {
    AUDIT_ARCH_X86_64: "x86_64",
    AUDIT_ARCH_I386: "i386",
    AUDIT_ARCH_AARCH64: "aarch64",
}

ALL_NAMES: frozenset[str] = frozenset(n for t in TABLES.values() for n in t.values())


def numbers_for(table: dict[int, str], names: frozenset[str]) -> set[int]:
    return {nr for nr, name in table.items() if name in names}

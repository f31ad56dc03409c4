"""Pick how traced syscalls reach the capture core, by trying what works here.

    seccomp_notify  SECCOMP_RET_USER_NOTIF answered with FLAG_CONTINUE. With
                    SYNC_WAKE_UP (Linux 6.6+) the hand-off stays on the CPU where
                    the syscall stopped: the fastest. Needs no capability; when
                    ptrace also works it follows the process lifecycle and takes
                    the exit stops (capture_results), otherwise /proc stands in.
    ptrace          SECCOMP_RET_TRACE and a waitpid loop, for kernels without
                    user notification.

Features are detected by trying them on a throwaway child at start, never from
the kernel version. `auto` picks the fastest that works and says why.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from typing import Any

try:
    from tracehound.agent.tracer import _core
except ImportError as exc:  # built by `pip install .`; never run without it, slower
    _core = None  # type: ignore[assignment]
    _CORE_MISSING = (
        f"the capture core is not built ({exc}); reinstall tracehound where a C compiler "
        "and the Python headers are available: pip install ."
    )

BACKENDS = ("auto", "seccomp_notify", "ptrace")


class BackendUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Backend:
    name: str  # "seccomp_notify" or "ptrace"
    ptrace: bool  # ptrace is attached (always with "ptrace"; lifecycle with notify)
    sync_wakeup: bool
    reason: str

    @property
    def notify(self) -> bool:
        return self.name == "seccomp_notify"


@dataclass(frozen=True)
class Features:
    notify: bool
    sync_wakeup: bool
    ptrace_errno: int

    @property
    def ptrace(self) -> bool:
        return self.ptrace_errno == 0


def core() -> Any:
    """The capture core module, or a clear error when it was not built."""
    if _core is None:
        raise BackendUnavailable(_CORE_MISSING)
    return _core


def probe() -> Features:
    core()
    works, sync, _killable = _core.probe_notify()
    return Features(notify=works, sync_wakeup=works and sync, ptrace_errno=_core.probe_ptrace())


def choose(requested: str, f: Features) -> Backend:
    no_ptrace = f"ptrace is not permitted ({errno.errorcode.get(f.ptrace_errno, f.ptrace_errno)})"
    lifecycle = "ptrace follows forks, execs and exits" if f.ptrace else f"{no_ptrace}: /proc does"
    if requested == "ptrace" or (requested == "auto" and not f.sync_wakeup and f.ptrace):
        if not f.ptrace:
            raise BackendUnavailable(f"backend ptrace: {no_ptrace}")
        why = (
            "requested"
            if requested == "ptrace"
            else "seccomp user notification cannot hand over on the same CPU here "
            "(no SYNC_WAKE_UP before Linux 6.6), so ptrace is as fast"
        )
        return Backend("ptrace", True, False, why)
    if not f.notify:
        raise BackendUnavailable(
            "seccomp user notification does not work here"
            + ("" if f.ptrace else f", and {no_ptrace}")
        )
    if requested == "seccomp_notify":
        why = "requested"
    elif f.sync_wakeup:
        why = "the kernel hands each notification over on the same CPU (SYNC_WAKE_UP)"
    else:
        why = no_ptrace
    why += "; " + lifecycle
    return Backend("seccomp_notify", f.ptrace, f.sync_wakeup, why)


def describe(b: Backend) -> str:
    sync = ", same-CPU hand-off" if b.sync_wakeup else ""
    return f"tracer backend {b.name}{sync}: {b.reason} (pid {os.getpid()})"

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

Testing knob: TRACEHOUND_KERNEL_FEATURES_OFF=sync_wakeup,wait_killable_recv,ptrace
(any of them, comma-separated) makes the probe report those features as missing and
the core never use them, as on a kernel without them (AWS Fargate runs Linux 5.10:
no SYNC_WAKE_UP, no WAIT_KILLABLE_RECV), so tests and the bench can run the choice
and the paths such a kernel gets.
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
    killable_recv: bool = True  # install the filter with WAIT_KILLABLE_RECV if it works

    @property
    def notify(self) -> bool:
        return self.name == "seccomp_notify"


FEATURES_OFF_ENV = "TRACEHOUND_KERNEL_FEATURES_OFF"
MASKABLE = ("sync_wakeup", "wait_killable_recv", "ptrace")


@dataclass(frozen=True)
class Features:
    notify: bool
    sync_wakeup: bool
    ptrace_errno: int
    killable_recv: bool = False
    masked: tuple[str, ...] = ()  # reported missing by FEATURES_OFF_ENV

    @property
    def ptrace(self) -> bool:
        return self.ptrace_errno == 0


def core() -> Any:
    """The capture core module, or a clear error when it was not built."""
    if _core is None:
        raise BackendUnavailable(_CORE_MISSING)
    return _core


def masked_features(value: str | None = None) -> tuple[str, ...]:
    """The features FEATURES_OFF_ENV masks; a clear error for a name it does not know."""
    if value is None:
        value = os.environ.get(FEATURES_OFF_ENV, "")
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in MASKABLE]
    if unknown:
        raise BackendUnavailable(
            f"{FEATURES_OFF_ENV}: unknown feature {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(MASKABLE)})"
        )
    return names


def probe() -> Features:
    core()
    off = masked_features()
    works, sync, killable = _core.probe_notify()
    return Features(
        notify=works,
        sync_wakeup=works and sync and "sync_wakeup" not in off,
        ptrace_errno=errno.EPERM if "ptrace" in off else _core.probe_ptrace(),
        killable_recv=killable and "wait_killable_recv" not in off,
        masked=off,
    )


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
        return Backend("ptrace", True, False, why + _masked(f), f.killable_recv)
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
    return Backend("seccomp_notify", f.ptrace, f.sync_wakeup, why + _masked(f), f.killable_recv)


def _masked(f: Features) -> str:
    if not f.masked:
        return ""
    return f" [{FEATURES_OFF_ENV}: {', '.join(f.masked)} reported missing]"


def describe(b: Backend) -> str:
    sync = ", same-CPU hand-off" if b.sync_wakeup else ""
    return f"tracer backend {b.name}{sync}: {b.reason} (pid {os.getpid()})"

"""Run one command: wall time, stderr, the root process's peak RSS.

Peak RSS is read two ways, because each alone misleads:
- VmHWM from /proc/PID/status, polled every 20 ms: the root process only (for a
  tracehound run, the agent itself, not the application it traces). The last reading
  before exit is kept; growth in the final 20 ms can be missed.
- ru_maxrss from wait4(): exact, but the maximum over the root and every descendant
  it reaped, so for tracehound it may be the application's peak, not the agent's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Outcome:
    returncode: int
    wall: float
    stderr: str
    vmhwm_kb: int | None
    maxrss_kb: int
    driver_value: float | None = None
    rss_series: list[tuple[float, int]] | None = None


def alive(pid: int) -> bool:
    """True while child pid has not exited; unlike Popen.poll() it never reaps it,
    so the final wait4() still gets the exit status and rusage."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None


def _vm_kb(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class _RssPoller(threading.Thread):
    def __init__(self, pid: int, period: float = 0.02, series_every: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.period, self.series_every = pid, period, series_every
        self.peak: int | None = None
        self.series: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        t0 = last = time.monotonic()
        while not self.stop.is_set():
            hwm = _vm_kb(self.pid, "VmHWM")
            if hwm is not None:
                self.peak = max(self.peak or 0, hwm)
                now = time.monotonic()
                if self.series_every and now - last >= self.series_every:
                    self.series.append((round(now - t0, 2), _vm_kb(self.pid, "VmRSS") or 0))
                    last = now
            self.stop.wait(self.period)


def run(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    driver: Callable[[subprocess.Popen[bytes]], float] | None = None,
    rss_series_every: float = 0.0,
) -> Outcome:
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        # Own session, so a timeout can end the whole tree this run started.
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=err, start_new_session=True,
        )  # fmt: skip
        poller = _RssPoller(proc.pid, series_every=rss_series_every)
        poller.start()
        timer = threading.Timer(timeout, _kill_group, (proc.pid,))
        timer.start()
        value, failure = None, None
        if driver is not None:
            try:
                value = driver(proc)
            except Exception as e:  # reap the tree first, then report
                failure = e
                _kill_group(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        poller.stop.set()
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        poller.join()
        err.seek(0)
        text = err.read().decode(errors="replace")
    if failure is not None:
        raise RuntimeError(f"driver failed: {failure}; stderr: {text[-2000:]}") from failure
    return Outcome(
        proc.returncode, wall, text, poller.peak, usage.ru_maxrss, value,
        poller.series or None,
    )  # fmt: skip


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)

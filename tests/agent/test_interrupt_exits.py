"""Opens by notification, exits by PTRACE_INTERRUPT (_core.c), attacked.

With no sink taking events, backend seccomp_notify takes opens by notification; an
open whose result is wanted gets its exit by interrupting the thread before answering
(the thread completes the open and stops with the result in its registers). These
runs try what could make that stop come late, never, or with the wrong registers: a
timer interrupting the program every millisecond, every signal blocked, job-control stops
while it runs, a 32-bit program. Every successful read of /etc/shadow must alert and
no failed one may; the stats say which way the exits were taken, or the test proves
nothing. On a kernel without a killable notification wait (5.10, or the feature
masked) the interrupt restarts the open, which must then complete once, with its
exit stop: the same answers are required there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from th_support import AGENT, final_tracer_stats, with_backend

from tracehound.agent.tracer.backend import probe

READ_SENSITIVE = "Read sensitive file by unexpected program"
CONFIG = '[filters.rules.rate_limit]\nrate = 0\n[sinks.out]\ntype = "file"\npath = "{path}"\n'
CONFIG += 'inputs = ["alerts"]\n'
MASKED = {"TRACEHOUND_KERNEL_FEATURES_OFF": "wait_killable_recv"}
# Fargate's 5.10: no killable wait and no SYNC_WAKE_UP (one notify thread per CPU, in poll)
FARGATE = {"TRACEHOUND_KERNEL_FEATURES_OFF": "sync_wakeup,wait_killable_recv"}


def _run(
    tmp_path: Path, backend: str, argv: list[str], env: dict[str, str] | None = None,
    jobs: bool = False,
) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
    records = tmp_path / "alerts.jsonl"
    config, prefix = with_backend(CONFIG.format(path=records), backend)
    cfg = tmp_path / "tracehound.toml"
    cfg.write_text(config)
    proc = subprocess.Popen(
        [*prefix, *AGENT, "run", "--config", str(cfg), "--", *argv], cwd=tmp_path,
        env={**os.environ, **(env or {})}, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    if jobs:  # stop and continue the application while it opens (it is the agent's child)
        time.sleep(0.3)
        for pid in _children(proc.pid):
            for _ in range(20):
                os.kill(pid, signal.SIGSTOP)
                time.sleep(0.01)
                os.kill(pid, signal.SIGCONT)
                time.sleep(0.01)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    stats = final_tracer_stats(err)
    alerts = [json.loads(x) for x in records.read_text().splitlines()]
    return out, alerts, stats


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(x) for x in path.read_text().split()]
    except OSError:
        return []


def _reads(alerts: list[dict[str, Any]], name: str) -> int:
    return sum(
        1
        for a in alerts
        if a["rule"] == READ_SENSITIVE and a["output_fields"].get("proc.name") == name
    )


def _check_exit_path(
    stats: dict[str, Any], backend: str, env: dict[str, str] | None, n: int
) -> None:
    """Exits were taken the way this backend and kernel must take them: by interrupt on
    seccomp_notify, each one restarted first where the wait is not killable."""
    if backend != "seccomp_notify":
        assert stats["exits_by_interrupt"] == 0, stats
        return
    assert stats["exits_by_interrupt"] >= n, stats
    # without SYNC_WAKE_UP: one notify thread per CPU, each pinned (recv_percpu)
    percpu = (env is FARGATE or not probe().sync_wakeup) and len(os.sched_getaffinity(0)) > 1
    assert stats["notify_percpu"] == percpu, stats
    if env or not probe().killable_recv:
        # one completed restart per open at least (a signal handler running first sends
        # the open round again: more interrupts than restarts)
        assert n <= stats["exits_after_restart"] <= stats["exits_by_interrupt"], stats
    else:
        assert stats["exits_after_restart"] == 0, stats


@pytest.mark.parametrize("env", [None, MASKED, FARGATE], ids=["killable", "masked", "fargate"])
@pytest.mark.parametrize("mode", ["signals", "blocked", "stopped"])
def test_every_read_of_shadow_alerts_and_no_failed_open_does(
    tmp_path: Path, tracer_backend: str, programs: dict[str, Path], mode: str,
    env: dict[str, str] | None,
) -> None:  # fmt: skip
    if env and tracer_backend != "seccomp_notify":
        pytest.skip("the mask only changes how seccomp_notify takes exits")
    n = 300
    argv = [str(programs["sigopens"]), str(n), *(["block"] if mode == "blocked" else [])]
    out, alerts, stats = _run(tmp_path, tracer_backend, argv, env, jobs=mode == "stopped")
    assert out.split()[:4] == ["shadow", str(n), "failed", str(n)], out
    if mode == "signals":
        assert int(out.split()[5]) > 0, out  # the timer did interrupt it
    if tracer_backend == "notify_no_ptrace":
        assert _reads(alerts, "sigopens") >= n  # no exit: results unknown (README)
        return
    assert _reads(alerts, "sigopens") == n, (out, stats)
    _check_exit_path(stats, tracer_backend, env, n)


@pytest.mark.parametrize("env", [None, MASKED, FARGATE], ids=["killable", "masked", "fargate"])
def test_a_signal_handlers_open_is_not_taken_for_the_one_it_interrupted(
    tmp_path: Path, tracer_backend: str, programs: dict[str, Path], env: dict[str, str] | None
) -> None:
    """The handler opens /etc/shadow through the same libc wrapper as the opens it
    interrupts (harmless ones, and failing ones under /etc/shadow/): each of its reads
    alerts once, and nothing else does, on every way exits are taken."""
    if env and tracer_backend != "seccomp_notify":
        pytest.skip("the mask only changes how seccomp_notify takes exits")
    n = 300
    argv = [str(programs["handleropens"]), str(n)]
    out, alerts, stats = _run(tmp_path, tracer_backend, argv, env)
    words = out.split()
    handler = int(words[1])
    assert words[2:6] == ["main", str(n), "failed", str(n)], out
    assert handler > 0, out  # the timer fired inside the loop, or this proves nothing
    if tracer_backend == "notify_no_ptrace":
        assert _reads(alerts, "handleropens") >= handler  # no exit: results unknown
        return
    assert _reads(alerts, "handleropens") == handler, (out, stats)
    _check_exit_path(stats, tracer_backend, env, handler)


def test_a_32_bit_program_gets_its_own_results(
    tmp_path: Path, tracer_backend: str, programs: dict[str, Path]
) -> None:
    """int 0x80: the result is read from the registers of a 32-bit task."""
    _, alerts, stats = _run(tmp_path, tracer_backend, [str(programs["int80shadow"])])
    if tracer_backend == "notify_no_ptrace":
        assert _reads(alerts, "int80shadow") >= 1
        return
    assert _reads(alerts, "int80shadow") == 1, (alerts, stats)  # not the failed one
    _check_exit_path(stats, tracer_backend, None, 2)

"""What the running kernel offers and what `auto` makes of it, checked against the
kernel's version. On this machine it is one more check; under scripts/kernel-tests it
runs on Linux 5.10 (Fargate's series) and 6.1, where the probes take other paths:
no SYNC_WAKE_UP (6.6+), no WAIT_KILLABLE_RECV (5.19+), no PIDFD_THREAD (6.9+).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from th_support import AGENT, write_config

from tracehound.agent.tracer import backend as be


def kernel() -> tuple[int, int]:
    major, minor = os.uname().release.split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()))


def test_probes_find_what_the_kernel_version_has() -> None:
    works, sync, killable = be.core().probe_notify()
    k = kernel()
    assert works  # user notification with FLAG_CONTINUE: 5.5+, Fargate has it
    assert sync == (k >= (6, 6)), f"SYNC_WAKE_UP probe {sync} on {os.uname().release}"
    assert killable == (k >= (5, 19)), f"WAIT_KILLABLE_RECV probe {killable}"


def test_auto_picks_the_fastest_backend_and_says_why(tmp_path: object) -> None:
    f = be.probe()
    chosen = be.choose("auto", f)
    if kernel() >= (6, 6):
        assert chosen.name == "seccomp_notify" and chosen.sync_wakeup
    else:
        # Without the same-CPU hand-off, a notification costs two context switches
        # more than a ptrace stop: ptrace, whenever it is permitted (it is here: root).
        assert f.ptrace and chosen.name == "ptrace"
        assert "no SYNC_WAKE_UP before Linux 6.6" in chosen.reason
    # The agent itself says the same on stderr.
    done = subprocess.run(
        [*AGENT, "run", "--", "true"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stderr.splitlines() if "tracer backend" in x)
    assert f"tracer backend {chosen.name}" in line and chosen.reason in line


def test_without_ptrace_auto_still_runs_on_notification() -> None:
    """EKS on Fargate grants no SYS_PTRACE: notification alone, /proc for lifecycle."""
    f = be.probe()
    no_ptrace = be.Features(notify=f.notify, sync_wakeup=f.sync_wakeup, ptrace_errno=1)
    chosen = be.choose("auto", no_ptrace)
    assert chosen.name == "seccomp_notify" and not chosen.ptrace
    assert "ptrace is not permitted (EPERM)" in chosen.reason


def test_seccomp_notify_with_ptrace_runs_to_the_end_here(tmp_path: Path) -> None:
    """`auto` does not pick it before 6.6, but a user can: seccomp_notify with ptrace
    for the lifecycle must run a program to its end on this kernel too (it was once
    seen hanging after the first stop on 5.10)."""
    if be.probe().ptrace_errno:
        pytest.skip("ptrace is not permitted here")
    records = tmp_path / "records.jsonl"
    cfg = write_config(tmp_path / "notify.toml", records, '[tracer]\nbackend = "seccomp_notify"\n')
    done = subprocess.run(
        [*AGENT, "run", "--config", str(cfg), "--", "sh", "-c", "cat /etc/hostname | wc -c"],
        capture_output=True,
        text=True,
        timeout=600,  # an emulated guest starts Python slowly; a hang fails here
    )
    assert done.returncode == 0, done.stderr
    assert "tracer backend seccomp_notify" in done.stderr
    assert "ptrace follows forks, execs and exits" in done.stderr
    execs = [json.loads(x)["output_fields"] for x in records.read_text().splitlines()]
    assert any(e.get("proc.name") == "cat" and e["evt.type"] == "execve" for e in execs)

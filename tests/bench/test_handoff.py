"""Smoke test of the hand-off micro-benchmark (bench/handoff/): it builds, every mode
runs under both conditions, and every supervisor answered exactly the stops the tracee
made. No timing is asserted."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.handoff import _report
from bench.handoff.run import FEWER, MODES, build

ROOT = Path(__file__).resolve().parents[2]
N = 300

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not shutil.which("gcc"), reason="gcc missing")]


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("handoff")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.handoff.run", "--quick", "--n", str(N),
         "--out", str(out), "--build", str(out / "build")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (out / "results.md").read_text().startswith("# Hand-off micro-benchmark")
    data: dict = json.loads((out / "results.json").read_text())
    return data


def test_every_mode_ran_in_both_conditions(result: dict) -> None:
    seen = {(r["condition"], r["mode"]) for r in result["runs"]}
    assert seen == {(c, m) for c in ("idle", "busy") for m in MODES}


@pytest.mark.parametrize("sysname", ["openat", "getppid"])
def test_every_mode_counts_the_same_stops(tmp_path: Path, sysname: str) -> None:
    """Each supervisor answers every stop the tracee made: the warm-up and the timed
    calls, no more (nothing else is traced) and no less (a lost stop would hang)."""
    binary = build(tmp_path)
    for mode in MODES:
        proc = subprocess.run([str(binary), mode, str(N), "--sys", sysname],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 0, (mode, proc.stderr)
        rec = json.loads(proc.stdout)
        if "unsupported" in rec:  # SYNC_WAKE_UP before Linux 6.6
            assert mode == "notify_sync"
            continue
        want = 0 if mode == "native" else N + rec["warmup"]
        assert (rec["mode"], rec["stops"]) == (mode, want)
        assert rec["loop_ns"] > 0 and rec["n"] == N


def test_spin_modes_spin_and_percpu_pins(tmp_path: Path) -> None:
    """The modes do what they are named for: the spinning supervisors spun (whether a
    spin found its stop is timing, not asserted), the per-CPU threads were pinned (one
    affinity change per CPU)."""
    binary = build(tmp_path)
    got = {}
    for mode in ("notify_spin", "ptrace_spin", "notify_percpu", "notify_percpu_poll"):
        proc = subprocess.run([str(binary), mode, str(N), "--spin-us", "200"],
                              capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
        got[mode] = json.loads(proc.stdout)
    for mode in ("notify_spin", "ptrace_spin"):
        assert got[mode]["spins_hit"] + got[mode]["spins_miss"] > 0, got[mode]
    cpus = got["notify_percpu"]["cpus"]
    assert got["notify_percpu"]["supervisor_moves"] == cpus
    assert got["notify_percpu_poll"]["supervisor_moves"] == cpus


def test_report_summarizes_per_condition(result: dict) -> None:
    table = _report.summarize(result)
    assert set(table) == {"idle", "busy"}
    for cond, rows in table.items():
        assert rows["native"]["slowdown"] == pytest.approx(1.0)
        for mode, row in rows.items():
            if "unsupported" in row:
                continue
            calls = max(N // FEWER.get(mode, 1), 1)
            assert row["stops"] == [0 if mode == "native" else calls + 100], (cond, mode)
    # The busy condition's co-runner was running and counted beside every run.
    busy = [r for r in result["runs"] if r["condition"] == "busy" and "loop_ns" in r]
    assert busy and all(r["corunner_rate"] >= 0 for r in busy)

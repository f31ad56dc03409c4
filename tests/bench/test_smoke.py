"""Smoke test of the benchmark harness: `python -m bench.run --quick` runs end to end
and tracehound's event counts agree with strace's. Never asserts a timing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("strace", "gcc", "go", "nginx")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    missing = [t for t in TOOLS if not shutil.which(t) and not Path("/usr/sbin", t).exists()]
    if missing:
        pytest.skip(f"benchmark tools missing: {', '.join(missing)}")
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(out),
         "--build", str(out / "build")],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    for name in ("results.md", "results.json", "chart.png"):
        assert (out / name).stat().st_size > 0, name
    data: dict = json.loads((out / "results.json").read_text())
    return data


pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_every_run_succeeded(results: dict) -> None:
    assert {w["key"] for w in results["workloads"]} == {f"W{i}" for i in range(1, 9)}
    for w in results["workloads"]:
        assert not w["errors"], (w["key"], w["errors"])
        for run in w["runs"]:
            assert run["error"] is None and run["value"], (w["key"], run["setup"], run["error"])
            if run["setup"].startswith("th_"):  # the agent's own CPU, for the per-event table
                assert run["cpu"] and run["cpu"]["agent_user"] > 0, (w["key"], run["setup"])


def test_counts_agree_with_strace(results: dict) -> None:
    for w in results["workloads"]:
        acc = w["accuracy"]
        assert set(acc) == {"minimal", "balanced", "aggressive"}, w["key"]
        for profile, a in acc.items():
            assert a["match"], (w["key"], profile, a["diff"])
            assert a["dropped"] == 0, (w["key"], profile, a["dropped"])


def test_memory_and_pipeline_measured(results: dict) -> None:
    assert results.get("w2_agent_rss_mb"), "agent RSS under W2 not measured"
    flood = results.get("flood") or {}
    assert flood.get("peak_rss_mb"), flood.get("error")
    assert (results.get("pipeline") or {}).get("events_per_s"), results.get("pipeline")

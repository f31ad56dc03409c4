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
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by the runs below: the workloads are compiled once."""
    missing = [t for t in TOOLS if not shutil.which(t) and not Path("/usr/sbin", t).exists()]
    if missing:
        pytest.skip(f"benchmark tools missing: {', '.join(missing)}")
    return tmp_path_factory.mktemp("bench-build")


def _bench(out: Path, build: Path, *args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(out), "--build", str(build),
         *args],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, build_dir: Path) -> dict:
    out = tmp_path_factory.mktemp("bench")
    _bench(out, build_dir)
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


def test_busy_cpu_runs_beside_a_spinner(tmp_path: Path, build_dir: Path) -> None:
    """--busy-cpu: the spinner starts (else the run fails) and the report says so."""
    _bench(tmp_path, build_dir, "--only", "W1", "--setups", "native,th_default",
           "--busy-cpu", "--no-flood", "--no-pipeline")  # fmt: skip
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["meta"]["busy_cpu"] is True, data["meta"]
    runs = data["workloads"][0]["runs"]
    assert {r["setup"] for r in runs if r["value"] and not r["error"]} == {"native", "th_default"}
    assert "a spinner on the last CPU throughout" in (tmp_path / "results.md").read_text()

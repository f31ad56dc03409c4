"""The benchmark harness, one command:

    python -m bench.run [--quick] [--repeat N] [--only W1,W2] [--out DIR] [--busy-cpu]

Writes results.md, results.json and chart.png to bench/results/ (or --out).
--quick is the CI smoke version: tiny sizes, one repeat, a short flood.
--busy-cpu runs the workloads, native included, beside a spinner pinned to the last CPU:
the "other CPU busy" condition, where a stop's wake-up finds no idle CPU to wake.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py` as well as `python -m bench.run`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _memory, _pipeline, _report
from bench._build import build
from bench._setups import SETUPS
from bench._suite import Suite, WorkloadResult
from bench._workloads import WORKLOADS, Ctx
from bench.handoff import run as handoff

RESULTS = Path(__file__).resolve().parent / "results"


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke sizes, 1 repeat (CI)")
    ap.add_argument("--repeat", type=int, help="runs per configuration (default 5, quick 1)")
    ap.add_argument("--only", help="comma-separated workloads, e.g. W1,W5")
    ap.add_argument("--setups", help="comma-separated configurations (default: all)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    ap.add_argument("--build", type=Path, default=Path(tempfile.gettempdir()) / "tracehound-bench")
    ap.add_argument("--flood-secs", type=int, help="memory flood length (default 60, quick 3)")
    ap.add_argument("--no-flood", action="store_true")
    ap.add_argument("--no-pipeline", action="store_true")
    ap.add_argument("--report-only", action="store_true", help="re-render OUT/results.json")
    ap.add_argument("--busy-cpu", action="store_true", help="a spinner on the last CPU throughout")
    return ap.parse_args(argv)


def _meta(args: argparse.Namespace, repeat: int, load_before: str) -> dict[str, object]:
    strace = subprocess.run(["strace", "-V"], capture_output=True, text=True).stdout.split("\n")[0]
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs, Linux {platform.release()}, Python "
        f"{platform.python_version()}, {strace}",
        "repeat": repeat,
        "load_before": load_before,
        "quick": args.quick,
        "busy_cpu": args.busy_cpu,
        "command": "python -m bench.run " + " ".join(sys.argv[1:]),
        "commit": _commit(),
        "load_after": _load(),
    }


def _commit() -> str:
    """HEAD, marked dirty when the tracer or pipeline differ from it (read-only git)."""
    root = Path(__file__).resolve().parent.parent
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    dirty = subprocess.run(["git", "status", "--porcelain", "agent", "filters", "sinks"],
                           cwd=root, capture_output=True, text=True).stdout.strip()  # fmt: skip
    return head + ("+dirty" if dirty else "")


def _load() -> str:
    # Other work on the machine shows up as noise: record how busy it was.
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.report_only:
        _report.write(args.out, *_report.load(args.out / "results.json"))
        return 0
    repeat = args.repeat or (1 if args.quick else 5)
    only = set(args.only.split(",")) if args.only else None
    setups = tuple(s for s in SETUPS if not args.setups or s.key in args.setups.split(","))
    # Same locale files opened under every configuration; the agent reports its own CPU.
    env = dict(os.environ, LC_ALL="C", TRACEHOUND_CPU_STATS="1")
    load_before = _load()
    b = build(args.build)
    work = Path(tempfile.mkdtemp(prefix="tracehound-bench-"))
    ctx = Ctx(b, work, args.quick)
    suite = Suite(ctx, env, timeout=120 if args.quick else 900)
    results: list[WorkloadResult] = []
    extra: dict[str, object] = {}
    condition, spinner = "idle", Path()
    if args.busy_cpu:  # the hand-off benchmark's spinner: built there, pinned to the last CPU
        condition, spinner = "busy", handoff.build(args.build / "handoff")
    try:
        with handoff.condition(condition, spinner, work):
            for wl in WORKLOADS:
                if only is None or wl.key in only:
                    results.append(suite.workload(wl, repeat, setups))
        w2 = [r.vmhwm_kb for res in results if res.key == "W2" for r in res.runs
              if r.setup == "th_balanced" and r.vmhwm_kb]  # fmt: skip
        if w2:
            extra["w2_agent_rss_mb"] = max(w2) / 1024
        if not args.no_flood and any(s.is_tracehound for s in setups):
            secs = args.flood_secs or (3 if args.quick else 60)
            print(f"memory: {secs} s flood with the sink down", file=sys.stderr, flush=True)
            extra["flood"] = _memory.flood(ctx, env, secs).__dict__
        if not args.no_pipeline:
            print("pipeline micro-benchmark", file=sys.stderr, flush=True)
            extra["pipeline"] = _pipeline.run(args.quick, env)
    finally:
        _report.write(args.out, _meta(args, repeat, load_before), results, extra)
        shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {args.out}/results.md, results.json, chart.png", file=sys.stderr)
    print((args.out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())

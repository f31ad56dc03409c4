"""The hand-off micro-benchmark: what a traced syscall's stop costs, supervisor mode by mode.

    python -m bench.handoff.run                     # 5 rounds, idle and busy: ~4 min
    python -m bench.handoff.run --quick             # every mode once, tiny: a few seconds
    python -m bench.handoff.run --rounds 7 --modes notify,ptrace,ptrace_spin

Every round runs every mode under both conditions, interleaved: "idle" (nothing
else started) and "busy" (a spinning co-runner pinned to the last CPU, whose loop
count also says how much CPU each mode left it). Writes results.md and results.json
to bench/results/handoff/ (or --out) and prints the tables. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/handoff/run.py` as well as `-m bench.handoff.run`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.handoff import _report

SRC = Path(__file__).resolve().parent / "handoff.c"
RESULTS = Path(__file__).resolve().parents[1] / "results" / "handoff"
MODES = (
    "native", "notify_sync", "notify", "notify_percpu", "notify_percpu_poll", "notify_follow",
    "notify_spin", "notify_idle", "notify_percpu_poll_idle", "notify_follow_idle", "notify_apart",
    "ptrace", "ptrace_follow", "ptrace_follow_each", "ptrace_spin", "ptrace_idle",
    "ptrace_follow_idle", "ptrace_apart",
)  # fmt: skip
CONDITIONS = ("idle", "busy")
# Modes run with fewer calls (n // divisor): the forced cross-CPU diagnostics cost up to
# milliseconds a stop on a loaded host, and SCHED_IDLE supervisors can starve behind a
# busy thread (a run that times out is recorded and that mode skipped afterwards).
FEWER = {m: 100 if m.endswith("_apart") else 10 for m in MODES if m.endswith(("_apart", "_idle"))}


def build(build_dir: Path) -> Path:
    """Compile handoff.c into build_dir (again only when the source is newer)."""
    build_dir.mkdir(parents=True, exist_ok=True)
    out = build_dir / "handoff"
    if not out.exists() or SRC.stat().st_mtime > out.stat().st_mtime:
        subprocess.run(
            ["gcc", "-O2", "-Wall", "-Wextra", "-pthread", "-o", str(out), str(SRC)], check=True
        )
    return out


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_times() -> tuple[int, int]:
    """(idle + iowait, total) jiffies of all CPUs, from /proc/stat."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return f[3] + f[4], sum(f[:8])


class CoRunner:
    """The busy condition's spinner: pinned to one CPU, counting its loop turns."""

    def __init__(self, binary: Path, cpu: int, counter: Path) -> None:
        self.counter = counter
        self.proc = subprocess.Popen([str(binary), "spin", str(cpu), str(counter)])
        deadline = time.monotonic() + 5
        while self.count() == 0:  # started and counting
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the co-runner did not start")
            time.sleep(0.01)

    def count(self) -> int:
        try:
            raw = self.counter.read_bytes()[:8]
        except FileNotFoundError:
            return 0
        return struct.unpack("<Q", raw)[0] if len(raw) == 8 else 0

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.counter.unlink(missing_ok=True)


@contextmanager
def condition(name: str, binary: Path, work: Path) -> Iterator[CoRunner | None]:
    if name == "idle":
        yield None
        return
    # tmpfs: a file shared by mmap must be coherent with read() (not so on 9p, as in the
    # kernel VM's --rw directories)
    shm = Path("/dev/shm")
    counter = (shm if shm.is_dir() else work) / f"handoff-corunner-{os.getpid()}"
    spinner = CoRunner(binary, (os.cpu_count() or 1) - 1, counter)
    try:
        yield spinner
    finally:
        spinner.stop()


def run_one(
    binary: Path, mode: str, args: argparse.Namespace, spinner: CoRunner | None
) -> dict[str, Any]:
    n = max(args.n // FEWER.get(mode, 1), 1)
    cmd = [str(binary), mode, str(n), "--sys", args.sys, "--spin-us", str(args.spin_us)]
    load, (i0, j0) = _load(), _cpu_times()
    c0, t0 = (spinner.count() if spinner else 0), time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"mode": mode, "timeout": args.timeout, "load": load}
    c1, t1 = (spinner.count() if spinner else 0), time.monotonic()
    i1, j1 = _cpu_times()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {proc.returncode}: {proc.stderr.strip()}")
    rec: dict[str, Any] = json.loads(proc.stdout)
    rec["load"] = load
    rec["wall_s"] = round(t1 - t0, 4)
    # Share of all CPUs' time that was idle during the run: how idle "idle" really was.
    rec["host_idle_pct"] = round(100 * (i1 - i0) / max(j1 - j0, 1), 1)
    if spinner:
        rec["corunner_rate"] = (c1 - c0) / (t1 - t0)  # loop turns per second
    return rec


def _environment() -> dict[str, Any]:
    def read(p: str) -> str:
        try:
            return Path(p).read_text().strip()
        except OSError:
            return "-"

    haltpoll = Path("/sys/module/haltpoll/parameters")
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "cpuidle_driver": read("/sys/devices/system/cpu/cpuidle/current_driver"),
        "haltpoll": {p.name: read(str(p)) for p in sorted(haltpoll.glob("*"))},
        "command": "python -m bench.handoff.run " + " ".join(sys.argv[1:]),
    }


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.handoff.run", description=__doc__)
    ap.formatter_class = argparse.RawDescriptionHelpFormatter
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 5, quick 1)")
    ap.add_argument("--n", type=int, help="stopping syscalls per run (default 20000, quick 300)")
    ap.add_argument("--sys", choices=("openat", "getppid"), default="openat")
    ap.add_argument("--spin-us", type=int, default=20, help="spin budget of the *_spin modes")
    ap.add_argument("--modes", help=f"comma-separated subset of: {','.join(MODES)}")
    ap.add_argument("--conditions", default=",".join(CONDITIONS), help="idle,busy")
    ap.add_argument("--quick", action="store_true", help="every mode once, tiny (smoke test)")
    ap.add_argument("--timeout", type=float, default=15, help="seconds per run")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    ap.add_argument(
        "--build", type=Path, default=Path(tempfile.gettempdir()) / "tracehound-bench" / "handoff"
    )
    args = ap.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 5)
    args.n = args.n or (300 if args.quick else 20000)
    modes = args.modes.split(",") if args.modes else list(MODES)
    bad = [m for m in modes if m not in MODES]
    conds = args.conditions.split(",")
    bad += [c for c in conds if c not in CONDITIONS]
    if bad:
        ap.error(f"unknown mode or condition: {', '.join(bad)}")
    if "native" not in modes:
        modes.insert(0, "native")  # the reference every slowdown is against
    args.mode_list, args.condition_list = modes, conds
    return args


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    binary = build(args.build)
    env = _environment()
    runs: list[dict[str, Any]] = []
    timed_out: set[tuple[str, str]] = set()
    for rnd in range(args.rounds):
        # Rotate the order of modes and conditions each round, so that no mode always
        # runs first or right after the co-runner started.
        shift = rnd % len(args.mode_list)
        order = args.mode_list[shift:] + args.mode_list[:shift]
        conds = args.condition_list if rnd % 2 == 0 else args.condition_list[::-1]
        for cond in conds:
            with condition(cond, binary, args.build) as spinner:
                for mode in order:
                    if (cond, mode) in timed_out:
                        continue
                    rec = run_one(binary, mode, args, spinner)
                    rec.update(round=rnd, condition=cond)
                    runs.append(rec)
                    if "timeout" in rec:
                        timed_out.add((cond, mode))
        print(f"round {rnd + 1}/{args.rounds} done, load {_load()}", file=sys.stderr)
    env["load_after"] = _load()
    result = {"environment": env, "n": args.n, "sys": args.sys, "spin_us": args.spin_us,
              "rounds": args.rounds, "runs": runs}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    md = _report.markdown(result)
    (args.out / "results.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())

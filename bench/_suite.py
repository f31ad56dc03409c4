"""Run every configuration of a workload, interleaved, plus strace's reference counts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import _counts, _proc
from bench._setups import PROFILE_NAMES, SETUPS, Setup, profile_syscalls, strace_trace_arg
from bench._workloads import Ctx, State, Workload


@dataclass
class Run:
    setup: str
    value: float | None  # seconds (lower is better) or rps (higher is better)
    wall: float
    returncode: int
    vmhwm_kb: int | None = None  # the root process (the agent, for tracehound)
    maxrss_kb: int | None = None
    events: dict[str, int] | None = None  # tracehound records per evt.type
    alerts: int | None = None
    stats: dict[str, Any] | None = None
    error: str | None = None
    cpu: dict[str, float] | None = None  # the agent's own rusage (TRACEHOUND_CPU_STATS)


@dataclass
class WorkloadResult:
    key: str
    title: str
    metric: str
    nondeterministic: list[str]
    runs: list[Run] = field(default_factory=list)
    reference: dict[str, dict[str, int]] = field(default_factory=dict)  # profile -> counts
    errors: list[str] = field(default_factory=list)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Suite:
    def __init__(self, ctx: Ctx, env: dict[str, str], timeout: float) -> None:
        self.ctx, self.env, self.timeout = ctx, env, timeout

    def _driver(
        self, wl: Workload, state: State
    ) -> Callable[[subprocess.Popen[bytes]], float] | None:
        drive = wl.driver
        if drive is None:
            return None
        return lambda proc: drive(self.ctx, state, proc)

    def _exec(self, argv: list[str], wl: Workload, state: State) -> _proc.Outcome:
        return _proc.run(
            argv, cwd=self.ctx.work, env=self.env, timeout=self.timeout,
            driver=self._driver(wl, state),
        )  # fmt: skip

    def reference(self, wl: Workload, state: State) -> dict[str, dict[str, int]]:
        """strace's counts, per profile, from one run tracing the widest profile.

        Narrower profiles are subsets of it (minimal's opens after the same argument
        check as the tracer's BPF), so one run serves all three.
        """
        out = self.ctx.work / f"{wl.key}.strace"
        widest = frozenset().union(*(profile_syscalls(p) for p in PROFILE_NAMES))
        argv = ["strace", "-f", "--seccomp-bpf", "-X", "raw", "-e", strace_trace_arg(widest),
                "-o", str(out), *wl.command(self.ctx, state)]  # fmt: skip
        res = self._exec(argv, wl, state)
        if res.returncode != 0:
            raise RuntimeError(
                f"{wl.key} under strace failed ({res.returncode}): {res.stderr[-800:]}"
            )
        ref = {}
        for p in PROFILE_NAMES:
            counts = _counts.strace_counts(out, profile_syscalls(p), _counts.arg_checks(p))
            ref[p] = dict(sorted(counts.items()))
        out.unlink()
        return ref

    def once(self, wl: Workload, state: State, setup: Setup) -> Run:
        run_dir = self.ctx.work / "runs"
        run_dir.mkdir(exist_ok=True)
        sink = setup.sink_path(run_dir)
        sink.unlink(missing_ok=True)
        argv = [*setup.prefix(run_dir, self.ctx.build.root / "bin"), *wl.command(self.ctx, state)]
        try:
            res = self._exec(argv, wl, state)
        except RuntimeError as e:
            return Run(setup.key, None, 0.0, -1, error=str(e)[-1500:])
        value = res.driver_value if wl.metric == "rps" else _counts.elapsed(res.stderr)
        run = Run(setup.key, value, res.wall, res.returncode, res.vmhwm_kb, res.maxrss_kb)
        if res.returncode != 0 or value is None:
            run.error = res.stderr[-1500:]
        if setup.is_tracehound:
            events, run.alerts = _counts.record_counts(sink)
            run.events = dict(sorted(events.items()))
            run.stats = _counts.tracer_stats(res.stderr)
            run.cpu = _counts.cpu_stats(res.stderr)
            sink.unlink(missing_ok=True)
        return run

    def workload(
        self, wl: Workload, repeat: int, setups: tuple[Setup, ...] = SETUPS
    ) -> WorkloadResult:
        result = WorkloadResult(wl.key, wl.title, wl.metric, sorted(wl.nondeterministic))
        fixture = wl.fixture(self.ctx) if wl.fixture else _empty()
        with fixture as state:
            if any(s.is_tracehound for s in setups):
                _log(f"{wl.key}: strace reference counts")
                try:
                    result.reference = self.reference(wl, state)
                except RuntimeError as e:
                    result.errors.append(str(e))
            for rep in range(repeat):  # interleaved: A B C ... A B C ...
                for setup in setups:
                    run = self.once(wl, state, setup)
                    _log(f"{wl.key} #{rep + 1} {setup.key:<14} value={run.value} "
                         f"wall={run.wall:.2f}s rc={run.returncode}"
                         + (f" stats={run.stats}" if setup.is_tracehound else ""))  # fmt: skip
                    if run.error:
                        _log(f"  error: {run.error[-600:]}")
                    result.runs.append(run)
        shutil.rmtree(self.ctx.work / "runs", ignore_errors=True)
        return result


class _empty:
    def __enter__(self) -> State:
        return {}

    def __exit__(self, *exc: object) -> None:
        return None


def accuracy(res: WorkloadResult) -> dict[str, dict[str, Any]]:
    """Per tracehound profile: tracehound's counts against strace's, and the drops."""
    out: dict[str, dict[str, Any]] = {}
    for p in PROFILE_NAMES:
        runs = [r for r in res.runs if r.setup == f"th_{p}" and r.events is not None]
        ref = res.reference.get(p)
        if not runs or ref is None:
            continue
        names = profile_syscalls(p)
        diffs: dict[str, list[int]] = {}
        for r in runs:
            got = r.events or {}
            for n in names:
                if n in res.nondeterministic:
                    continue
                if got.get(n, 0) != ref.get(n, 0):
                    diffs.setdefault(n, [got.get(n, 0), ref.get(n, 0)])
        last = runs[-1].events or {}
        out[p] = {
            "tracehound": sum(v for k, v in last.items() if k in names),
            "strace": sum(ref.values()),
            "match": not diffs,
            "diff": diffs,  # name -> [tracehound, strace] (first differing run)
            "dropped": max(int((r.stats or {}).get("dropped", -1)) for r in runs),
            "other_types": sorted(set(last) - set(names)),
        }
    return out


def median_value(res: WorkloadResult, setup: str) -> float | None:
    vals = sorted(
        r.value for r in res.runs if r.setup == setup and r.value is not None and not r.error
    )
    if not vals:
        return None
    mid = len(vals) // 2
    return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2


def slowdown(res: WorkloadResult, setup: str) -> float | None:
    """Native throughput / this setup's throughput: 1.0 is native speed, higher is slower."""
    base, val = median_value(res, "native"), median_value(res, setup)
    if not base or not val:
        return None
    return base / val if res.metric == "rps" else val / base

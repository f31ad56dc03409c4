"""The agent's own CPU per traced event on W2 (issue 17), user and system apart.

    python -m bench.agent_cpu [--repeat 5] [--count 100000] [--setups a,b] [--json]

Each configuration runs `tracehound run` on W2 (`stopwatch open_loop DIR COUNT`) with
TRACEHOUND_CPU_STATS=1, so the agent prints at exit its own rusage (RUSAGE_SELF: every
thread of the agent, never the application's) split by thread: the tracer thread (the
capture core: waits, ioctl / ptrace, process_vm_readv, encoding), the event-loop thread
(decode, process table, stage chain, router, sinks) and the rest (notify threads, worker
threads). The per-event figure divides by the events the core recorded (tracer stats
`events`). Also measured: the whole tree (wait4 of `tracehound run`: agent + application)
minus the program alone, as /usr/bin/time would give it. Per event means beyond start-up:
each configuration also runs on 0 iterations, and the medians of those runs (start-up,
rule compilation, shutdown) are subtracted; the start-up column shows them. Runs are
interleaved; the table shows medians with the (min-max) range. CPU time, not wall time:
the machine may be busy. `--compare` runs an older build beside it.

`w2x4_block` is the 100k-IOPS run: W2 over 4 threads (`threads_open DIR 4 COUNT/4`),
every event to a file sink, `queue.when_full = "block"`: it must record every open and
drop none; events/s is opens recorded per second of the application's own time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._build import build
from bench._counts import ELAPSED_PREFIX, record_counts, tracer_stats
from bench._setups import tracehound_cmd

CPU_PREFIX = "tracehound: cpu stats "
_QUIET = '[agent]\nstats_interval_secs = 0\nlog_level = "warning"\n'
_CONSOLE = '[sinks.console]\ntype = "console"\ntarget = "stderr"\ninputs = ["alerts"]\n'


@dataclass(frozen=True)
class Conf:
    key: str
    label: str
    config: str | None  # TOML text; None: the shipped default (no --config)
    threads: int = 1
    sink: bool = False  # the config writes a file sink we count


def _file_sink(path: Path) -> str:
    return f'[sinks.out]\ntype = "file"\npath = "{path}"\ninputs = ["events", "alerts"]\n'


def confs(work: Path) -> list[Conf]:
    out = work / "events.jsonl"
    balanced = '[tracer]\nprofile = "balanced"\n'
    return [
        Conf("default", "shipped default config (alerts only)", None),
        Conf(
            "default_noverify",
            "shipped default, verify off",
            _QUIET + "[tracer]\nverify = false\n" + _CONSOLE,
        ),
        Conf(
            "events_file",
            "balanced, every event to a file",
            _QUIET + balanced + _file_sink(out),
            sink=True,
        ),
        Conf(
            "events_file_noverify",
            "balanced, every event to a file, verify off",
            _QUIET + balanced + "verify = false\n" + _file_sink(out),
            sink=True,
        ),
        Conf(
            "w2x4_block",
            "4 threads, every event to a file, when_full = block",
            _QUIET + balanced + 'queue.when_full = "block"\n' + _file_sink(out),
            threads=4,
            sink=True,
        ),
    ]


def _argv(b: Any, conf: Conf, count: int) -> list[str]:
    if conf.threads > 1:
        prog = [b.bin("threads_open"), str(b.files), str(conf.threads), str(count // conf.threads)]
    else:
        prog = [b.bin("open_loop"), str(b.files), str(count)]
    return [b.bin("stopwatch"), *prog]


def _run(argv: list[str], env: dict[str, str]) -> tuple[int, Any, str, float]:
    with tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                             env=env)  # fmt: skip
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t0
        err.seek(0)
        return p.returncode, ru, err.read().decode(errors="replace"), wall


def _last_json(stderr: str, prefix: str) -> dict[str, Any] | None:
    found = None
    for line in stderr.splitlines():
        if line.startswith(prefix):
            found = json.loads(line[len(prefix) :])
    return found


def _elapsed(stderr: str) -> float | None:
    for line in stderr.splitlines():
        if line.startswith(ELAPSED_PREFIX):
            return float(line.split()[1])
    return None


def once(
    b: Any, conf: Conf, count: int, work: Path, env: dict[str, str], th: list[str] | None = None
) -> dict[str, Any]:
    argv = _argv(b, conf, count)
    sink = work / "events.jsonl"
    sink.unlink(missing_ok=True)
    if conf.key != "native":
        cmd = [*(th or tracehound_cmd()), "run"]
        if conf.config is not None:
            cfg = work / f"{conf.key}.toml"
            cfg.write_text(conf.config)
            cmd += ["--config", str(cfg)]
        argv = [*cmd, "--", *argv]
    rc, ru, stderr, wall = _run(argv, env)
    row: dict[str, Any] = {
        "rc": rc,
        "wall": wall,
        "tree_user": ru.ru_utime,
        "tree_sys": ru.ru_stime,
        "app_secs": _elapsed(stderr),
    }
    if rc != 0:
        row["error"] = stderr[-1500:]
    if conf.key != "native":
        row["cpu"] = _last_json(stderr, CPU_PREFIX)
        row["stats"] = tracer_stats(stderr)
        if row["cpu"] is None or row["stats"] is None:
            row["error"] = "no cpu/tracer stats line: " + stderr[-1500:]
    if conf.sink:
        counts, _ = record_counts(sink)
        row["recorded_opens"] = counts.get("openat", 0) + counts.get("open", 0)
        sink.unlink(missing_ok=True)
    return row


def _med(vals: list[float]) -> tuple[float, float, float]:
    return statistics.median(vals), min(vals), max(vals)


def summarize(conf: Conf, rows: list[dict[str, Any]], native: list[dict[str, Any]],
              idle: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return {"key": conf.key, "label": conf.label, "error": rows[-1].get("error", "")}
    out: dict[str, Any] = {"key": conf.key, "label": conf.label, "runs": len(ok)}
    ev = [r["stats"]["events"] for r in ok]
    out["events"] = int(statistics.median(ev))
    out["dropped"] = max(r["stats"].get("dropped", 0) for r in ok)

    idle_ok = [r for r in idle if "error" not in r]
    if not idle_ok:
        return {"key": conf.key, "label": conf.label, "error": "start-up run failed"}
    # Per event: what the run cost beyond start-up and shutdown (the same
    # configuration on 0 iterations, median), over the events beyond its own.
    base = {k: statistics.median(r["cpu"][k] for r in idle_ok) for k in idle_ok[0]["cpu"]}
    base_events = statistics.median(r["stats"]["events"] for r in idle_ok)

    def per_event(key: str) -> tuple[float, float, float]:
        return _med(
            [(r["cpu"][key] - base[key]) / (r["stats"]["events"] - base_events) * 1e6 for r in ok]
        )

    for part in ("agent", "tracer", "loop", "other"):
        for kind in ("user", "sys"):
            out[f"{part}_{kind}_us"] = per_event(f"{part}_{kind}")
    both = [r["cpu"]["agent_user"] + r["cpu"]["agent_sys"] for r in ok]
    start = base["agent_user"] + base["agent_sys"]
    out["startup_secs"] = start
    out["agent_us"] = _med([(t - start) / (r["stats"]["events"] - base_events) * 1e6
                            for t, r in zip(both, ok, strict=True)])  # fmt: skip
    out["agent_total_us"] = _med(
        [t / r["stats"]["events"] * 1e6 for t, r in zip(both, ok, strict=True)]
    )
    nat = [r["tree_user"] + r["tree_sys"] for r in native if "error" not in r]
    if nat:
        base = statistics.median(nat)
        out["tree_minus_native_us"] = _med(
            [(r["tree_user"] + r["tree_sys"] - base) / r["stats"]["events"] * 1e6 for r in ok]
        )
    apps = [r["app_secs"] for r in ok if r["app_secs"]]
    if apps:
        out["app_secs"] = _med(apps)
    if conf.sink:
        out["recorded_opens"] = min(r["recorded_opens"] for r in ok)
        if apps:
            out["opens_per_sec"] = _med([r["recorded_opens"] / r["app_secs"] for r in ok])
    return out


def _fmt(t: tuple[float, float, float] | None) -> str:
    if t is None:
        return "-"
    return f"{t[0]:.1f} ({t[1]:.1f}-{t[2]:.1f})"


def table(results: list[dict[str, Any]], native_secs: float | None) -> str:
    lines = [
        "| configuration | agent us/event | user | sys | tracer thread user / sys | "
        "loop thread user / sys | start-up s | incl. start-up, us/event | "
        "whole tree - native, us/event | events | dropped |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in results:
        if "error" in s:
            lines.append(f"| {s['label']} | error | | | | | | | | | |")
            continue
        lines.append(
            f"| {s['label']} | {_fmt(s['agent_us'])} | {_fmt(s['agent_user_us'])} | "
            f"{_fmt(s['agent_sys_us'])} | {s['tracer_user_us'][0]:.1f} / "
            f"{s['tracer_sys_us'][0]:.1f} | {s['loop_user_us'][0]:.1f} / "
            f"{s['loop_sys_us'][0]:.1f} | {s['startup_secs']:.2f} | "
            f"{_fmt(s['agent_total_us'])} | {_fmt(s.get('tree_minus_native_us'))} | "
            f"{s['events']} | {s['dropped']} |"
        )
    for s in results:
        if "opens_per_sec" in s:
            lines.append(
                f"\n{s['label']}: {s['recorded_opens']} opens recorded (min over runs), "
                f"{s['dropped']} dropped, {s['opens_per_sec'][0]:,.0f} events/s "
                f"({s['opens_per_sec'][1]:,.0f}-{s['opens_per_sec'][2]:,.0f}) of application "
                f"time {_fmt(s['app_secs'])} s"
            )
    if native_secs is not None:
        lines.append(f"\nnative W2 application time: {native_secs:.3f} s (median)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.agent_cpu", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--setups", help="comma-separated keys (default: all)")
    ap.add_argument("--build", type=Path, default=Path(tempfile.gettempdir()) / "tracehound-bench")
    ap.add_argument("--json", type=Path, help="also write every run and the summary here")
    ap.add_argument("--compare", type=Path, metavar="TRACEHOUND",
                    help="another tracehound executable (an older build's venv): every "
                    "configuration also runs with it, interleaved, as KEY@before")  # fmt: skip
    args = ap.parse_args(argv)
    b = build(args.build)
    work = Path(tempfile.mkdtemp(prefix="tracehound-cpu-"))
    env = dict(os.environ, LC_ALL="C", TRACEHOUND_CPU_STATS="1")
    all_confs = confs(work)
    chosen = [c for c in all_confs if not args.setups or c.key in args.setups.split(",")]
    native = Conf("native", "program alone", None)
    plan: list[tuple[Conf, list[str] | None]] = [(native, None)]
    for c in chosen:
        plan.append((c, None))
        if args.compare:
            plan.append((Conf(c.key + "@before", c.label + " (before)", c.config, c.threads,
                              c.sink), [str(args.compare)]))  # fmt: skip
    runs: dict[str, list[dict[str, Any]]] = {c.key: [] for c, _ in plan}
    idle: dict[str, list[dict[str, Any]]] = {c.key: [] for c, _ in plan}
    for rep in range(args.repeat):
        for conf, th in plan:
            # The same configuration on 0 iterations: start-up and shutdown alone.
            idle[conf.key].append(once(b, conf, 0, work, env, th))
            row = once(b, conf, args.count, work, env, th)
            runs[conf.key].append(row)
            cpu = row.get("cpu") or {}
            print(f"#{rep + 1} {conf.key:<22} rc={row['rc']} app={row['app_secs']} "
                  f"tree={row['tree_user']:.2f}u+{row['tree_sys']:.2f}s "
                  f"agent={cpu.get('agent_user')}u+{cpu.get('agent_sys')}s "
                  f"events={(row.get('stats') or {}).get('events')}"
                  + (f" error={row['error'][-300:]}" if "error" in row else ""),
                  file=sys.stderr, flush=True)  # fmt: skip
    results = [summarize(c, runs[c.key], runs["native"], idle[c.key]) for c, _ in plan[1:]]
    nat_apps = [r["app_secs"] for r in runs["native"] if r.get("app_secs")]
    native_secs = statistics.median(nat_apps) if nat_apps else None
    print(table(results, native_secs))
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "summary": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

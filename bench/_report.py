"""results.json, results.md (tables, targets) and chart.png from one harness run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from bench._setups import PROFILE_NAMES, SETUPS
from bench._suite import Run, WorkloadResult, accuracy, median_value, slowdown

_CHECK = {True: "met", False: "**not met**", None: "n/a"}


def _fmt_value(res: WorkloadResult, v: float | None) -> str:
    if v is None:
        return "failed"
    return f"{v:,.0f} rps" if res.metric == "rps" else f"{v:.3f} s"


def speed_table(results: list[WorkloadResult]) -> str:
    head = "| workload | " + " | ".join(s.label for s in SETUPS) + " |"
    lines = [head, "|" + "---|" * (len(SETUPS) + 1)]
    for res in results:
        cells = []
        for s in SETUPS:
            if not any(r.setup == s.key for r in res.runs):
                cells.append("-")  # not run
                continue
            cell = _fmt_value(res, median_value(res, s.key))
            ratio = slowdown(res, s.key)
            if s.key != "native" and ratio is not None:
                cell += f" ({ratio:.2f}x)"
            cells.append(cell)
        lines.append(f"| {res.key} {res.title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def spread_table(results: list[WorkloadResult]) -> str:
    """(max - min) / median per configuration: how much noise the medians carry."""
    lines = ["| workload | " + " | ".join(s.label for s in SETUPS) + " |"]
    lines.append("|" + "---|" * (len(SETUPS) + 1))
    for res in results:
        cells = []
        for s in SETUPS:
            vals = [r.value for r in res.runs if r.setup == s.key and r.value and not r.error]
            med = median_value(res, s.key)
            if len(vals) > 1 and med:
                cells.append(f"{(max(vals) - min(vals)) / med:.0%}")
            else:
                cells.append("-")
        lines.append(f"| {res.key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def overhead_table(results: list[WorkloadResult]) -> str:
    """Agent start-up + final flush: wall time minus the application's own time."""
    ths = [s for s in SETUPS if s.is_tracehound]
    lines = [
        "| workload | " + " | ".join(s.label for s in ths) + " |",
        "|" + "---|" * (len(ths) + 1),
    ]
    for res in results:
        if res.metric != "seconds":
            continue
        cells = []
        for s in ths:
            diffs = sorted(r.wall - r.value for r in res.runs if r.setup == s.key and r.value)
            cells.append(f"{diffs[len(diffs) // 2]:.2f} s" if diffs else "-")
        lines.append(f"| {res.key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cpu_table(results: list[WorkloadResult]) -> str:
    """The agent's own CPU (every thread of the agent process, never the application's)
    per event it recorded, start-up included: median of user + sys, and its split."""
    ths = [s for s in SETUPS if s.is_tracehound]
    lines = [
        "| workload | " + " | ".join(s.label for s in ths) + " |",
        "|" + "---|" * (len(ths) + 1),
    ]
    for res in results:
        cells = []
        for s in ths:
            per = sorted(
                (r.cpu["agent_user"] / ev * 1e6, r.cpu["agent_sys"] / ev * 1e6)
                for r in res.runs
                if r.setup == s.key and r.cpu and (ev := int((r.stats or {}).get("events", 0)))
            )
            if not per:
                cells.append("-")
                continue
            both = sorted(u + y for u, y in per)
            u, y = per[len(per) // 2]
            cells.append(f"{both[len(both) // 2]:.1f} us ({u:.1f} user + {y:.1f} sys)")
        lines.append(f"| {res.key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def accuracy_table(results: list[WorkloadResult]) -> str:
    cols = " | ".join(f"{p}: tracehound / strace, drops" for p in PROFILE_NAMES)
    lines = [f"| workload | {cols} |", "|" + "---|" * (len(PROFILE_NAMES) + 1)]
    for res in results:
        acc = accuracy(res)
        cells = []
        for p in PROFILE_NAMES:
            a = acc.get(p)
            if a is None:
                cells.append("-")
                continue
            mark = (
                "equal"
                if a["match"]
                else "differ: "
                + ", ".join(f"{n} {t}/{s}" for n, (t, s) in sorted(a["diff"].items()))
            )
            drops = a["dropped"] if a["dropped"] >= 0 else "?"
            cells.append(f"{a['tracehound']:,} / {a['strace']:,} ({mark}), {drops}")
        lines.append(f"| {res.key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _by_key(results: list[WorkloadResult]) -> dict[str, WorkloadResult]:
    return {r.key: r for r in results}


def targets(
    results: list[WorkloadResult], extra: dict[str, Any]
) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for each target this run measured (issues 5 and 9)."""
    by = _by_key(results)
    out: list[tuple[str, str, bool | None]] = []

    def vs(key: str, other: str, setup: str = "th_balanced") -> float | None:
        r = by.get(key)
        if r is None:
            return None
        a, b = median_value(r, setup), median_value(r, other)
        if not a or not b:
            return None
        return a / b if r.metric == "seconds" else b / a

    def add(name: str, val: float | None, limit: float | None, fmt: str, le: bool = True) -> None:
        """limit None: a figure shown beside the targets, not one (never "met")."""
        met = None if val is None or limit is None else (val <= limit if le else val >= limit)
        out.append((name, "-" if val is None else fmt.format(val), met))

    # The fast-path targets (issue 9): balanced on backend auto, then ptrace forced.
    for setup, tag, w2_native, w7_strace, w5_native in (
        ("th_balanced", "balanced", 8.0, 0.40, 0.70),
        ("th_balanced_ptrace", "balanced ptrace", 10.0, 0.5, 0.40),
    ):
        if "W2" in by:
            add(f"W2 {tag} <= {w2_native:g}x native", slowdown(by["W2"], setup), w2_native,
                "{:.2f}x")  # fmt: skip
            if setup == "th_balanced":
                add(f"W2 {tag} <= 0.5x strace --seccomp-bpf", vs("W2", "strace_bpf", setup),
                    0.5, "{:.2f}x")  # fmt: skip
        if "W7" in by:
            add(f"W7 {tag} <= {w7_strace:g}x strace --seccomp-bpf",
                vs("W7", "strace_bpf", setup), w7_strace, "{:.2f}x")  # fmt: skip
        if "W5" in by:
            s = slowdown(by["W5"], setup)
            add(f"W5 {tag} >= {w5_native:.0%} of native rps", 1 / s if s else None, w5_native,
                "{:.0%}", le=False)  # fmt: skip
    # Issue 17: the Fargate kernel (features masked), and what verification costs.
    if "W2" in by:
        add("W2 Fargate kernel <= 6x native", slowdown(by["W2"], "th_balanced_fargate"), 6.0,
            "{:.2f}x")  # fmt: skip
        add("W2 Fargate kernel <= 0.3x strace --seccomp-bpf",
            vs("W2", "strace_bpf", "th_balanced_fargate"), 0.3, "{:.2f}x")  # fmt: skip
        add("W2 verify on / verify off (information)",
            vs("W2", "th_balanced_noverify"), None, "{:.2f}x")  # fmt: skip
    if "W5" in by:
        s5 = slowdown(by["W5"], "th_balanced_fargate")
        add("W5 Fargate kernel >= 60% of native rps", 1 / s5 if s5 else None, 0.60, "{:.0%}",
            le=False)  # fmt: skip
    if "W1" in by:  # nothing stops there: the filter's own price shows
        add("W1 default <= 1.03x native", slowdown(by["W1"], "th_default"), 1.03, "{:.2f}x")
        add("W1 filter only, allows all (the floor; information)",
            slowdown(by["W1"], "seccomp_allow"), None, "{:.2f}x")  # fmt: skip
    if "W4" in by:
        add("W4 balanced <= 1.2x native", slowdown(by["W4"], "th_balanced"), 1.2, "{:.2f}x")
    if "W8" in by:
        add("W8 (Go) balanced <= 1.5x native", slowdown(by["W8"], "th_balanced"), 1.5, "{:.2f}x")
    rate = extra.get("pipeline", {}).get("events_per_s")
    add("pipeline >= 200k events/s", rate, 200_000, "{:,.0f} events/s", le=False)
    rss = extra.get("w2_agent_rss_mb")
    add("agent RSS under W2 <= 60 MB", rss, 60, "{:.1f} MB")
    for res in results:
        for p, a in accuracy(res).items():
            ok = a["match"] and a["dropped"] == 0
            measured = f"{a['tracehound']:,}/{a['strace']:,}, drops {a['dropped']}"
            out.append((f"{res.key} {p}: counts equal strace, 0 drops", measured, ok))
    return out


def chart(results: list[WorkloadResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    setups = [s for s in SETUPS if s.key != "native"]
    fig, ax = plt.subplots(figsize=(11, 5))
    width = 0.8 / len(setups)
    for i, s in enumerate(setups):
        xs = [j + (i - (len(setups) - 1) / 2) * width for j in range(len(results))]
        ys = [slowdown(r, s.key) or 0 for r in results]
        bars = ax.bar(xs, ys, width, label=s.label)
        for b, y in zip(bars, ys, strict=True):
            if y:
                label = f"{y:.2f}" if y < 10 else f"{y:.0f}"
                x = b.get_x() + b.get_width() / 2
                ax.annotate(label, (x, y), ha="center", va="bottom", fontsize=6)
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set_yscale("log")
    ax.set_xticks(
        range(len(results)), [f"{r.key}\n{r.title.split(':')[0]}" for r in results], fontsize=8
    )
    ax.set_ylabel("slowdown vs native (median; log scale, lower is better)")
    ax.set_title("tracehound vs strace: cost per workload (W5: native rps / rps)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def load(path: Path) -> tuple[dict[str, Any], list[WorkloadResult], dict[str, Any]]:
    """Read a results.json back (to re-render the report without re-running)."""
    data = json.loads(path.read_text())
    results = []
    for w in data.pop("workloads"):
        w.pop("accuracy", None)
        runs = [Run(**r) for r in w.pop("runs")]
        results.append(WorkloadResult(**w, runs=runs))
    meta = data.pop("meta")
    data.pop("targets", None)
    return meta, results, data


def write(
    out: Path, meta: dict[str, Any], results: list[WorkloadResult], extra: dict[str, Any]
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = {
        "meta": meta,
        "workloads": [dataclasses.asdict(r) | {"accuracy": accuracy(r)} for r in results],
        **extra,
        "targets": [
            {"target": t, "measured": m, "met": ok} for t, m, ok in targets(results, extra)
        ],
    }
    (out / "results.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    if results:
        chart(results, out / "chart.png")
    (out / "results.md").write_text(markdown(meta, results, extra))


def markdown(meta: dict[str, Any], results: list[WorkloadResult], extra: dict[str, Any]) -> str:
    parts = [
        "# tracehound benchmark results",
        "",
        f"{meta['date']}, {meta['machine']}; {meta['repeat']} interleaved run(s) per configuration;"
        f" load average {meta.get('load_before', '?')} before, {meta.get('load_after', '?')} after;"
        f" tracehound at {meta.get('commit', '?')}; `{meta.get('command', '')}`"
        + (", **quick (smoke) sizes**" if meta["quick"] else "")
        + (
            ", **a spinner on the last CPU throughout** (the busy condition)"
            if meta.get("busy_cpu")
            else ""
        )
        + ".",
        "",
        "## Speed (median; in brackets: slowdown vs native, 1.00x = native speed)",
        "",
        "Seconds are the application's own time (from the `stopwatch` at the root of the traced",
        "tree); W5 is requests per second from the untraced load client.",
        "",
        speed_table(results),
        "",
        "![chart](chart.png)",
        "",
        "Spread of the runs behind each median, (max - min) / median:",
        "",
        spread_table(results),
        "",
        "## Accuracy: events recorded by tracehound vs syscalls seen by strace",
        "",
        accuracy_table(results),
        "",
        "## Agent start-up and final flush (wall time minus application time, median)",
        "",
        overhead_table(results),
        "",
        "## Agent CPU per recorded event (the agent's own rusage, start-up included, median)",
        "",
        "Per event beyond start-up, and split by thread: `python -m bench.agent_cpu`.",
        "",
        cpu_table(results),
        "",
        "## Memory and pipeline",
        "",
    ]
    rss = extra.get("w2_agent_rss_mb")
    parts.append(
        f"- Agent peak RSS (VmHWM) under W2, balanced: {rss:.1f} MB" if rss else "- W2 RSS: -"
    )
    fl = extra.get("flood") or {}
    if fl:
        peak = f"{fl['peak_rss_mb']:.1f} MB" if fl.get("peak_rss_mb") else "-"
        stats = fl.get("stats") or {}
        parts.append(
            f"- {fl['seconds']} s flood (W2's loop), only sink a webhook that is down: agent peak"
            f" RSS {peak}; last tracer stats: events {stats.get('events', '?')}, dropped"
            f" {stats.get('dropped', '?')}; "
            + ("agent exited" if fl.get("exited") else f"**{fl.get('error')}**")
        )
    pipe = extra.get("pipeline") or {}
    rate = pipe.get("events_per_s")
    parts.append(
        f"- Pipeline micro-benchmark: {rate:,.0f} events/s"
        if rate
        else f"- Pipeline: {pipe.get('error')}"
    )
    parts += ["", "## Targets", "", "| target | measured | |", "|---|---|---|"]
    parts += [f"| {t} | {m} | {_CHECK[ok]} |" for t, m, ok in targets(results, extra)]
    return "\n".join(parts) + "\n"

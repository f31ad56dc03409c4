"""results.md of the hand-off micro-benchmark: medians per condition and mode, with spread."""

from __future__ import annotations

import statistics
from typing import Any

WHAT = {
    "native": "no filter, no supervisor",
    "notify_sync": "notify, 1 thread, SYNC_WAKE_UP (6.6+; the reference)",
    "notify": "notify, 1 thread, blocking NOTIF_RECV",
    "notify_percpu": "notify, 1 pinned thread per CPU, all in NOTIF_RECV",
    "notify_percpu_poll": "notify, 1 pinned thread per CPU, all in poll()",
    "notify_follow": "notify, 1 thread moved to the tracee's CPU",
    "notify_spin": "notify, 1 thread, spins (poll 0) after each answer",
    "notify_idle": "notify, 1 thread, SCHED_IDLE",
    "notify_percpu_poll_idle": "notify, 1 pinned thread per CPU in poll(), SCHED_IDLE",
    "notify_follow_idle": "notify, 1 thread moved to the tracee's CPU, SCHED_IDLE",
    "notify_apart": "diagnostic: notify, tracee and thread pinned to different CPUs",
    "ptrace": "ptrace, waitpid",
    "ptrace_follow": "ptrace, tracer moved to the tracee's CPU (core's policy)",
    "ptrace_follow_each": "ptrace, tracer moved at every stop",
    "ptrace_spin": "ptrace, waitpid(WNOHANG) spin after each PTRACE_CONT",
    "ptrace_idle": "ptrace, tracer SCHED_IDLE",
    "ptrace_follow_idle": "ptrace, tracer moved to the tracee's CPU, SCHED_IDLE",
    "ptrace_apart": "diagnostic: ptrace, tracee and tracer pinned to different CPUs",
}


def _med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _spread(xs: list[float]) -> str:
    m = _med(xs)
    return f"{(max(xs) - min(xs)) / m * 100:.0f}%" if xs and m else "-"


def summarize(result: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """condition -> mode -> medians (the figures results.md shows; tests read them too)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    runs = result["runs"]
    for cond in dict.fromkeys(r["condition"] for r in runs):
        here = [r for r in runs if r["condition"] == cond]
        native = [r for r in here if r["mode"] == "native" and "loop_ns" in r]
        nat_call = _med([r["loop_ns"] / r["n"] / 1000 for r in native])
        nat_rate = _med([r["corunner_rate"] for r in native if "corunner_rate" in r])
        table: dict[str, dict[str, Any]] = {}
        for mode in dict.fromkeys(r["mode"] for r in here):
            rs = [r for r in here if r["mode"] == mode]
            ok = [r for r in rs if "loop_ns" in r]
            if not ok:
                why = rs[0].get("unsupported") or f"timed out (> {rs[0].get('timeout')} s)"
                table[mode] = {"unsupported": why}
                continue
            call = [r["loop_ns"] / r["n"] / 1000 for r in ok]
            sup = [r["supervisor_cpu_ns"] / max(r["stops"], 1) / 1000 for r in ok]
            tra = [r["tracee_cpu_ns"] / r["n"] / 1000 for r in ok]
            rates = [r["corunner_rate"] for r in ok if "corunner_rate" in r]
            table[mode] = {
                "runs": len(ok),
                "call_us": _med(call),
                "call_min": min(call),
                "call_max": max(call),
                "spread": _spread(call),
                "over_native_us": _med(call) - nat_call,
                "slowdown": _med(call) / nat_call,
                "supervisor_cpu_us": _med(sup),
                "tracee_cpu_us": _med(tra),
                "cross_pct": _med([100 * r["cross_cpu_stops"] / max(r["stops"], 1) for r in ok]),
                "migrated_pct": _med([100 * r["tracee_migrations"] / r["n"] for r in ok]),
                "corunner_share": _med(rates) / nat_rate if rates and nat_rate else None,
                "load1": _med([r["load"][0] for r in ok]),
                "host_idle_pct": _med([r["host_idle_pct"] for r in ok]),
                "timeouts": len(rs) - len(ok),
                "stops": sorted({r["stops"] for r in ok}),
            }
        out[cond] = table
    return out


def markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    loads = [r["load"][0] for r in result["runs"]]
    lines = [
        "# Hand-off micro-benchmark",
        "",
        f"`{env['command']}`: {env['date']}, Linux {env['kernel']}, {env['cpus']} CPUs, "
        f"cpuidle {env['cpuidle_driver']} (guest_halt_poll_ns "
        f"{env['haltpoll'].get('guest_halt_poll_ns', '-')}); {result['rounds']} interleaved "
        f"rounds of {result['n']:,} `{result['sys']}` calls per run; spin budget "
        f"{result['spin_us']} us; 1-min load average {min(loads):.2f}-{max(loads):.2f} over "
        f"the runs (median {_med(loads):.2f}), {env['load_after'][0]:.2f} after.",
        "",
        "Per call: the tracee's own loop time / calls (median [min-max], spread = "
        "(max-min)/median). CPU: supervisor per stop and tracee per call, from getrusage. "
        "Cross: stops answered on another CPU than the one the tracee stopped on. "
        "Migrated: calls after which the tracee ran on another CPU. Co-runner: the busy "
        "spinner's loop rate against its rate beside the native run (1.00 = untouched). "
        "Host idle: share of all CPUs' time idle during the run (/proc/stat): how idle "
        'the "idle" condition really was. Modes ending in _idle run a tenth of the '
        "calls, _apart a hundredth.",
    ]
    for cond, table in summarize(result).items():
        lines += [
            "",
            f"## {cond}" + (" (a spinner pinned to the last CPU)" if cond == "busy" else ""),
            "",
            "| mode | what | per call, us | spread | over native, us | slowdown | "
            "supervisor CPU/stop, us | tracee CPU/call, us | cross | migrated | co-runner | "
            "host idle |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for mode, s in table.items():
            if "unsupported" in s:
                lines.append(f"| {mode} | {WHAT.get(mode, '')} | {s['unsupported']} "
                             "| | | | | | | | | |")  # fmt: skip
                continue
            share = f"{s['corunner_share']:.2f}" if s["corunner_share"] is not None else "-"
            sup = "-" if mode == "native" else f"{s['supervisor_cpu_us']:.1f}"
            late = f" {s['timeouts']} run(s) timed out" if s["timeouts"] else ""
            lines.append(
                f"| {mode} | {WHAT.get(mode, '')} | {s['call_us']:.1f} "
                f"[{s['call_min']:.1f}-{s['call_max']:.1f}] | {s['spread']} | "
                f"{s['over_native_us']:.1f} | {s['slowdown']:.2f}x | "
                f"{sup} | {s['tracee_cpu_us']:.1f} | "
                f"{s['cross_pct']:.0f}% | {s['migrated_pct']:.0f}% | {share} | "
                f"{s['host_idle_pct']:.0f}% |{late}"
            )
    return "\n".join(lines) + "\n"

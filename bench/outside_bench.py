"""How fast a process entered from outside (ECS Exec, docker exec) is found, and what
a short-lived one does unseen before that.

    python -m bench.outside_bench [--repeat N] [--backend ptrace|seccomp_notify|notify_no_ptrace]

The agent runs as PID 1 of its own pid namespace (as a container's entrypoint) with the
default config plus an events file; this script enters the namespace with `nsenter`,
as the SSM agent does, and runs `sh -c 'sleep D; cat /etc/shadow'` for several delays
D, REPEAT times each, then `cat /etc/shadow` itself (no shell: it lives a millisecond
or two). For each it reports:
- found: how long after nsenter started the process's first record came (median, max);
- read seen: in how many runs the open of /etc/shadow was recorded (with ptrace it is
  once the process is adopted; without ptrace never: adopted processes are only
  reported from /proc).
Prints a Markdown table (docs/performance.md keeps a copy).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
NO_PTRACE = HERE.parent / "tests" / "support" / "no_ptrace.py"
AGENT = [sys.executable, "-m", "tracehound.agent.cli"]
APP = (
    "import os, sys, time\nopen(sys.argv[1] + '.ready', 'w').close()\n"
    "while not os.path.exists(sys.argv[1]):\n    time.sleep(0.02)\n"
)
DELAYS = (0.0, 0.02, 0.05, 0.1, 0.2)


def _ns(stamp: str) -> int:
    base, frac = stamp.rstrip("Z").split(".")
    secs = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return int(secs.timestamp()) * 10**9 + int(frac.ljust(9, "0")[:9])


def _wait(cond: object, what: str) -> None:
    for _ in range(1500):
        if callable(cond) and cond():
            return
        time.sleep(0.02)
    raise SystemExit(f"timed out waiting for {what}")


def run(backend: str, repeat: int) -> list[tuple[str, list[float], int, int]]:
    tmp = Path(tempfile.mkdtemp(prefix="th-outside-"))
    records, stop = tmp / "records.jsonl", tmp / "stop"
    name = "seccomp_notify" if backend == "notify_no_ptrace" else backend
    (tmp / "th.toml").write_text(
        f'[tracer]\nbackend = "{name}"\n[sinks.out]\ntype = "file"\npath = "{records}"\n'
        'inputs = ["events", "alerts"]\n'
    )
    prefix = [sys.executable, str(NO_PTRACE)] if backend == "notify_no_ptrace" else []
    agent = subprocess.Popen(
        ["unshare", "-p", "-f", "--mount-proc", *prefix, *AGENT, "run", "--config",
         str(tmp / "th.toml"), "--", sys.executable, "-c", APP, str(stop)],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    kids = Path(f"/proc/{agent.pid}/task/{agent.pid}/children")
    _wait(lambda: kids.exists() and kids.read_text().split(), "the agent")
    pid = kids.read_text().split()[0]
    _wait(lambda: Path(f"{stop}.ready").exists(), "the application")
    time.sleep(0.3)
    cases: list[tuple[str, list[str]]] = []
    for d in DELAYS:
        cases.append((f"sh: sleep {d}; cat", ["/bin/sh", "-c", f"sleep {d}; cat /etc/shadow"]))
    cases.append(("cat alone", ["/bin/cat", "/etc/shadow"]))
    started: list[tuple[int, int]] = []  # (case, ns)
    for _ in range(repeat):
        for i, (_, argv) in enumerate(cases):
            t0 = time.time_ns()
            subprocess.run(["nsenter", "-t", pid, "-p", "-m", *argv], stdout=subprocess.DEVNULL)
            started.append((i, t0))
            time.sleep(0.25)  # the scanner forgets nothing; runs never overlap
    stop.touch()
    agent.wait(timeout=120)
    recs = [json.loads(x) for x in records.read_text().splitlines()]
    outside = [r for r in recs if "rule" not in r and "outside_tree" in r.get("tags", [])]
    out = []
    for i, (label, _) in enumerate(cases):
        found: list[float] = []
        reads = 0
        for j, (case, t0) in enumerate(started):
            if case != i:
                continue
            t1 = started[j + 1][1] if j + 1 < len(started) else 1 << 62
            mine = [r for r in outside if t0 <= _ns(r["time"]) < t1]
            if mine:
                found.append((min(_ns(r["time"]) for r in mine) - t0) / 1e6)
            f = [r["output_fields"] for r in mine]
            reads += any(x.get("fd.name") == "/etc/shadow" and x["evt.type"] != "execve" for x in f)
        out.append((label, found, reads, repeat))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--backend", default="ptrace")
    a = ap.parse_args()
    print(f"backend {a.backend}, {a.repeat} runs per case, scan interval 0.1 s\n")
    cols = ("process entered from outside", "found in (ms, median / max)", "runs found")
    print("| " + " | ".join(cols) + " | its open of /etc/shadow recorded |")
    print("|---|---|---|---|")
    for label, found, reads, n in run(a.backend, a.repeat):
        lat = f"{statistics.median(found):.0f} / {max(found):.0f}" if found else "-"
        print(f"| {label} | {lat} | {len(found)}/{n} | {reads}/{n} |")


if __name__ == "__main__":
    main()

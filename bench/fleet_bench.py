"""What issue 21's parts cost, in the agent's process: OCSF encoding against plain JSON,
and the disk buffer against the memory buffer, end to end through the router into a
file sink.

    python -m bench.fleet_bench [--records 20000] [--repeat 5]

Prints the median (and min..max) of each measure over the repeats.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import msgspec

from tracehound.agent.router import Router
from tracehound.event import Alert, Event, ProcInfo
from tracehound.record import alert_record, event_record
from tracehound.sinks import SinkConfig
from tracehound.sinks.ocsf import encode_ocsf

PARENT = ProcInfo(1, 0, "sh", "/bin/sh", ("sh", "-c", "run"), "/app", 0, 0)
ARGV = ("python3", "app.py")
PROC = ProcInfo(42, 1, "python3", "/usr/bin/python3.11", ARGV, "/app", 1000, 1000, PARENT)
OPEN = {"fd.name": "/app/data/f.json", "evt.arg.flags": "O_RDONLY"}
CONNECT = {"fd.sip": "10.0.3.7", "fd.sport": 5432, "fd.l4proto": "tcp", "fd.name": "10.0.3.7:5432"}


def records(n: int) -> list[dict[str, Any]]:
    """A mix like a web service's: opens, connects, execs, and one alert in 100."""
    out = []
    for i in range(n):
        kind = i % 10
        if kind < 6:
            ev = Event(time.time_ns(), "openat", 42, PROC, dict(OPEN))
        elif kind < 9:
            ev = Event(time.time_ns(), "connect", 42, PROC, dict(CONNECT))
        else:
            ev = Event(time.time_ns(), "execve", 42, PROC, {"fd.name": "/usr/bin/ls", "evt.res": 0})
        rec = event_record(ev)
        if i % 100 == 0:
            rec = alert_record(Alert(ev, "Read sensitive file", "Warning", "m", ("fs",), f"u{i}"))
        out.append(rec)
    return out


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def through_router(recs: list[dict[str, Any]], buffer: dict[str, Any], tmp: Path) -> float:
    """Seconds to route every record and flush them into a file sink."""
    out = tmp / "out.jsonl"
    out.unlink(missing_ok=True)
    raw = {
        "type": "file",
        "path": str(out),
        "inputs": ["events", "alerts"],
        "buffer": buffer,
        "batch": {"max_events": 1000, "timeout_secs": 0.01},
    }
    cfg = msgspec.convert(raw, SinkConfig)
    now = time.time_ns()
    events = [Event(now, "openat", 42, PROC, {"fd.name": f"/f{i}"}) for i in range(len(recs))]

    async def go() -> float:
        router = Router.from_config({"out": cfg})
        await router.start()
        t0 = time.perf_counter()
        for i in range(0, len(events), 256):  # the pipeline's batch size
            await router.route(events[i : i + 256], [])
        await router.stop(60, log_summary=False)
        elapsed = time.perf_counter() - t0
        st = router.stats()["out"]
        assert st["sent_records"] == len(events) and st["dropped_total"] == 0, st
        return elapsed

    return anyio.run(go)


def show(name: str, secs: list[float], n: int) -> None:
    med = statistics.median(secs)
    print(
        f"{name:<34} {n / med:>11,.0f} rec/s  {med * 1e6 / n:6.2f} us/rec"
        f"  (min..max {min(secs) * 1e3:.1f}..{max(secs) * 1e3:.1f} ms for {n})"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    n, rep = args.records, args.repeat
    recs = records(n)
    # record.encode() keeps the bytes it made (records are encoded once): encode afresh.
    fresh = msgspec.json.Encoder().encode
    show("encode json (msgspec)", timed(lambda: [fresh(r) for r in recs], rep), n)
    show("encode ocsf", timed(lambda: [encode_ocsf(r) for r in recs], rep), n)
    tmp = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    try:
        mem = [through_router(recs, {}, tmp) for _ in range(rep)]
        show("router -> file, memory buffer", mem, n)
        disk = []
        for i in range(rep):
            buf = {"type": "disk", "path": str(tmp / f"buf{i}")}
            disk.append(through_router(recs, buf, tmp))
        show("router -> file, disk buffer", disk, n)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()

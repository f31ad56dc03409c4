"""Throughput of the stage chain: synthetic events through every stage, default rules.

    python bench/pipeline_bench.py [--events N] [--batch 256] [--sampling] [--baseline detect]

Prints events per second on one core (the chain is synchronous, so one thread).
The event mix resembles a busy web app: mostly reads/opens of a few hundred files,
some connects, execs, writes, with a sprinkling of events that trigger rules.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec  # noqa: E402

from agent.event import Event, ProcInfo  # noqa: E402
from filters.chain import build_chain  # noqa: E402
from filters.config import FiltersConfig  # noqa: E402


def make_events(n: int, seed: int = 1) -> list[Event]:
    rnd = random.Random(seed)
    init = ProcInfo(1, 0, "tini", "/sbin/tini", ("tini", "--"), "/", 0, 0)
    app = ProcInfo(7, 1, "python3", "/usr/bin/python3.11", ("python3", "app.py"), "/app", 1000, 1000, init)
    workers = [
        ProcInfo(100 + i, 7, "gunicorn", "/usr/bin/python3.11", ("gunicorn", "app:wsgi"), "/app",
                 1000, 1000, app)
        for i in range(8)
    ]  # fmt: skip
    files = [f"/app/static/img/{i}.png" for i in range(200)] + [
        f"/usr/lib/python3.11/{m}.py" for m in ("os", "json", "re", "socket", "ssl", "enum")
    ]
    out: list[Event] = []
    ts = time.time_ns()
    for i in range(n):
        p = rnd.choice(workers)
        r = rnd.random()
        ts += 1000
        if r < 0.45:
            ev = Event(ts, "read", p.pid, p, {"evt.arg.fd": 5})
        elif r < 0.80:
            ev = Event(ts, "openat", p.pid, p, {"fd.name": rnd.choice(files), "evt.arg.flags": "O_RDONLY|O_CLOEXEC"})
        elif r < 0.88:
            ev = Event(ts, "openat", p.pid, p, {"fd.name": f"/app/logs/req-{i % 50}.log",
                                                "evt.arg.flags": "O_WRONLY|O_CREAT|O_APPEND"})
        elif r < 0.95:
            ev = Event(ts, "connect", p.pid, p, {"fd.name": "10.0.0.5:5432", "fd.sip": "10.0.0.5", "fd.sport": 5432,
                                                 "fd.rip": "10.0.0.5", "fd.rport": 5432, "fd.l4proto": "tcp",
                                                 "fd.sockfamily": "ip", "fd.type": "ipv4"})
        elif r < 0.985:
            child = ProcInfo(5000 + i, p.pid, "convert", "/usr/bin/convert", ("convert", "a.png", "b.jpg"), "/app",
                             1000, 1000, p)
            ev = Event(ts, "execve", child.pid, child, {})
        elif r < 0.995:
            ev = Event(ts, "openat", p.pid, p, {"fd.name": "/etc/shadow", "evt.arg.flags": "O_RDONLY"})
        else:
            sh = ProcInfo(9000 + i, p.pid, "sh", "/bin/sh", ("sh", "-c", "id"), "/app", 1000, 1000,
                          ProcInfo(p.pid, 7, "nginx", "/usr/sbin/nginx", ("nginx",), "/", 0, 0, app))
            ev = Event(ts, "execve", sh.pid, sh, {})
        out.append(ev)
    return out  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=500_000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--sampling", action="store_true", help="sample read=0.01, openat=0.5")
    ap.add_argument("--baseline", default="learn", choices=["off", "learn", "detect"])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="thbench"))
    cfg_dict: dict = {"baseline": {"mode": args.baseline, "file": str(tmp / "b.json")}}
    if args.sampling:
        cfg_dict["sampling"] = {"rates": {"read": 0.01, "openat": 0.5}}
    cfg = msgspec.convert(cfg_dict, FiltersConfig)
    events = make_events(args.events)
    chain = build_chain(cfg, Path.cwd())
    # warm-up on a copy so caches are primed the way a running agent's are
    chain.process(make_events(20_000, seed=2))
    batches = [events[i : i + args.batch] for i in range(0, len(events), args.batch)]
    t0 = time.perf_counter()
    kept = alerts = 0
    for b in batches:
        k, a = chain.process(b)
        kept += len(k)
        alerts += len(a)
    dt = time.perf_counter() - t0
    rate = len(events) / dt
    result = {
        "events": len(events),
        "seconds": round(dt, 3),
        "events_per_sec": int(rate),
        "kept": kept,
        "alerts": alerts,
        "sampling": args.sampling,
        "baseline": args.baseline,
        "python": sys.version.split()[0],
    }
    print(json.dumps(result) if args.json else
          f"{len(events)} events in {dt:.3f} s: {rate:,.0f} events/s "
          f"(kept {kept}, alerts {alerts}, sampling={args.sampling}, baseline={args.baseline})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

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

import msgspec

from tracehound.event import Event, ProcInfo
from tracehound.filters.chain import build_chain
from tracehound.filters.config import FiltersConfig
from tracehound.openflags import parse_open_flags


def _open(p: ProcInfo, ts: int, path: str, flags: str) -> Event:
    # Events carry open flags as the int, as the decoder makes them.
    return Event(
        ts, "openat", p.pid, p, {"fd.name": path, "evt.arg.flags": parse_open_flags(flags)}
    )


def _connect(p: ProcInfo, ts: int, ip: str, port: int) -> Event:
    fields = {
        "fd.name": f"{ip}:{port}",
        "fd.sip": ip,
        "fd.sport": port,
        "fd.rip": ip,
        "fd.rport": port,
        "fd.l4proto": "tcp",
        "fd.sockfamily": "ip",
        "fd.type": "ipv4",
    }
    return Event(ts, "connect", p.pid, p, fields)


def _exec(parent: ProcInfo, ts: int, pid: int, exe: str, argv: tuple[str, ...]) -> Event:
    child = ProcInfo(pid, parent.pid, argv[0], exe, argv, "/app", 1000, 1000, parent)
    return Event(ts, "execve", pid, child, {})


def make_events(n: int, seed: int = 1) -> list[Event]:
    rnd = random.Random(seed)
    init = ProcInfo(1, 0, "tini", "/sbin/tini", ("tini", "--"), "/", 0, 0)
    py = "/usr/bin/python3.11"
    app = ProcInfo(7, 1, "python3", py, ("python3", "app.py"), "/app", 1000, 1000, init)
    argv = ("gunicorn", "app:wsgi")
    workers = [
        ProcInfo(100 + i, 7, "gunicorn", py, argv, "/app", 1000, 1000, app) for i in range(8)
    ]
    nginx = ProcInfo(50, 7, "nginx", "/usr/sbin/nginx", ("nginx",), "/", 0, 0, app)
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
            ev = _open(p, ts, rnd.choice(files), "O_RDONLY|O_CLOEXEC")
        elif r < 0.88:
            ev = _open(p, ts, f"/app/logs/req-{i % 50}.log", "O_WRONLY|O_CREAT|O_APPEND")
        elif r < 0.95:
            ev = _connect(p, ts, "10.0.0.5", 5432)
        elif r < 0.985:
            ev = _exec(p, ts, 5000 + i, "/usr/bin/convert", ("convert", "a.png", "b.jpg"))
        elif r < 0.995:
            ev = _open(p, ts, "/etc/shadow", "O_RDONLY")  # alerts (rate-limited)
        else:
            ev = _exec(nginx, ts, 9000 + i, "/bin/sh", ("sh", "-c", "id"))  # alerts
        out.append(ev)
    return out


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
    stats = chain.stats()
    result["suppressed"] = stats.get("alerts_suppressed", 0)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{len(events)} events in {dt:.3f} s: {rate:,.0f} events/s "
            f"(kept {kept}, alerts {alerts}, rate-limited {result['suppressed']}, "
            f"sampling={args.sampling}, baseline={args.baseline})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

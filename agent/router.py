"""Router: records to sinks, by inputs and minimum priority.

Each event or alert becomes a record once; every sink that wants it gets the same
dict (sinks must not mutate records). A sink with when_full = "block" makes
route() wait for room in its buffer, which slows the stage chain and, through
it, fills the tracer's hand-off queue, whose own policy (drop and count, by
default) protects the application. Sinks that have room get their records
before route() waits on a full one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from tracehound.agent.event import Alert, Event, priority_rank
from tracehound.agent.record import Record, alert_record, encode, event_record
from tracehound.agent.runner import SinkRunner
from tracehound.sinks import SinkConfig, build_sink

log = logging.getLogger("tracehound")


class Router:
    def __init__(self, runners: list[SinkRunner]) -> None:
        self.runners = runners
        self._events_to = [r for r in runners if "events" in r.cfg.inputs]
        self._alerts_to = [
            (r, priority_rank(r.cfg.minimum_priority)) for r in runners if "alerts" in r.cfg.inputs
        ]
        self._stats_task: asyncio.Task[None] | None = None

    @classmethod
    def from_config(cls, sinks: dict[str, SinkConfig]) -> Router:
        return cls([SinkRunner(name, cfg, build_sink(name, cfg)) for name, cfg in sinks.items()])

    async def start(self, stats_interval_secs: float = 0.0) -> None:
        """Open every sink and run its healthcheck (concurrently). Never raises."""
        await asyncio.gather(*(r.start() for r in self.runners))
        if stats_interval_secs > 0 and self.runners:
            self._stats_task = asyncio.create_task(self._log_periodically(stats_interval_secs))

    async def route(self, events: list[Event], alerts: list[Alert]) -> None:
        offers: list[tuple[SinkRunner, list[Record], list[int]]] = []
        if events and self._events_to:
            recs = [event_record(e) for e in events]
            sizes = [len(encode(r)) for r in recs]
            offers += [(r, recs, sizes) for r in self._events_to]
        if alerts and self._alerts_to:
            arecs = [alert_record(a) for a in alerts]
            asizes = [len(encode(r)) for r in arecs]
            ranks = [priority_rank(a.priority) for a in alerts]
            for runner, min_rank in self._alerts_to:
                keep = [i for i, rank in enumerate(ranks) if rank <= min_rank]
                if len(keep) == len(arecs):
                    offers.append((runner, arecs, asizes))
                elif keep:
                    offers.append((runner, [arecs[i] for i in keep], [asizes[i] for i in keep]))
        # First everyone who has room, then wait (only "block" sinks ever wait).
        waits = []
        for runner, recs, sizes in offers:
            taken = runner.offer(recs, sizes)
            if taken < len(recs):
                waits.append(runner.put(recs[taken:], sizes[taken:]))
        if waits:
            await asyncio.gather(*waits)

    async def stop(self, deadline_secs: float, *, log_summary: bool = True) -> None:
        """Flush every sink concurrently; what is left at the deadline is counted as dropped."""
        if self._stats_task is not None:
            self._stats_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stats_task
            self._stats_task = None
        drains = [asyncio.create_task(r.drain()) for r in self.runners]
        if drains:
            await asyncio.wait(drains, timeout=deadline_secs)
        for t in drains:
            t.cancel()
        await asyncio.gather(*(r.abort() for r in self.runners))
        await asyncio.gather(*(r.close() for r in self.runners))
        if log_summary:
            self.log_stats(final=True)

    def stats(self) -> dict[str, dict[str, Any]]:
        return {r.name: r.snapshot() for r in self.runners}

    def log_stats(self, final: bool = False) -> None:
        for name, s in self.stats().items():
            dropped = ",".join(f"{k}={v}" for k, v in sorted(s["dropped"].items())) or "0"
            line = (
                f"sink {name} ({s['type']}): sent={s['sent_records']} batches={s['sent_batches']} "
                f"retries={s['retries']} dropped={dropped} buffered={s['buffered']}"
            )
            if s["last_error"]:
                line += f" last_error={s['last_error']!r}"
            level = logging.WARNING if final and s["dropped_total"] else logging.INFO
            log.log(level, "%s%s", "final: " if final else "", line)

    async def _log_periodically(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.log_stats()

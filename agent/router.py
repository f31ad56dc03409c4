"""Router: records to sinks, by inputs and minimum priority.

Each event or alert becomes a record once; every sink that wants it gets the same
dict (sinks must not mutate records). A sink with when_full = "block" makes
route() wait for room in its buffer, which slows the stage chain and, through
it, fills the tracer's hand-off queue, whose own policy (drop and count, by
default) protects the application. Sinks that have room get their records
before route() waits on a full one.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
from anyio.abc import TaskGroup

from tracehound.event import Alert, Event, priority_rank
from tracehound.record import Record, alert_record, event_record
from tracehound.sinks import SinkConfig, build_sink
from tracehound.sinks.disk_buffer import make_runner
from tracehound.sinks.runner import SinkRunner
from tracehound.task import TaskInfo

log = logging.getLogger("tracehound")


class Router:
    def __init__(self, runners: list[SinkRunner], task: TaskInfo | None = None) -> None:
        """`task`: the task metadata every record carries (filled by the enrichment stage)."""
        self.runners = runners
        self.task = task
        self._events_to = [r for r in runners if "events" in r.cfg.inputs]
        self._alerts_to = [
            (r, priority_rank(r.cfg.minimum_priority)) for r in runners if "alerts" in r.cfg.inputs
        ]
        self._tasks = contextlib.AsyncExitStack()  # holds our own task group between start/stop
        self._own_tg: TaskGroup | None = None
        self._stats_scope: anyio.CancelScope | None = None
        self.unencodable = 0  # records dropped because they could not be encoded

    @property
    def takes_events(self) -> bool:
        """Some sink takes every event (inputs has "events")."""
        return bool(self._events_to)

    @classmethod
    def from_config(cls, sinks: dict[str, SinkConfig], task: TaskInfo | None = None) -> Router:
        runners = [
            make_runner(name, cfg, build_sink(name, cfg, task)) for name, cfg in sinks.items()
        ]
        return cls(runners, task)

    async def start(
        self,
        stats_interval_secs: float = 0.0,
        *,
        tg: TaskGroup | None = None,
        alongside: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        """Open every sink and run its healthcheck (concurrently, and with `alongside`,
        another start-up step), then start one runner task per sink and the stats timer.

        They belong to `tg` (the agent's task group) or, without one, to a task group
        of the router's own that stop() closes (then call both from the same task).
        Never raises (unless `alongside` does)."""
        if tg is None:
            tg = self._own_tg = await self._tasks.enter_async_context(anyio.create_task_group())
        async with anyio.create_task_group() as starting:
            if alongside is not None:
                starting.start_soon(alongside)
            for r in self.runners:
                starting.start_soon(r.start, tg)
        if stats_interval_secs > 0 and self.runners:
            self._stats_scope = anyio.CancelScope()
            tg.start_soon(self._log_periodically, stats_interval_secs, self._stats_scope)

    async def route(self, events: list[Event], alerts: list[Alert]) -> None:
        offers: list[tuple[SinkRunner, list[Record], list[int]]] = []
        if events and self._events_to:
            recs, sizes, _ = self._records(events, event_record)
            offers += [(r, recs, sizes) for r in self._events_to]
        if alerts and self._alerts_to:
            arecs, asizes, kept = self._records(alerts, alert_record)
            ranks = [priority_rank(alerts[i].priority) for i in kept]
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
                waits.append((runner, recs[taken:], sizes[taken:]))
        if len(waits) == 1:
            runner, recs, sizes = waits[0]
            await runner.put(recs, sizes)
        elif waits:
            async with anyio.create_task_group() as tg:
                for runner, recs, sizes in waits:
                    tg.start_soon(runner.put, recs, sizes)

    def _records(
        self, items: list[Any], build: Callable[[Any, TaskInfo | None], Record]
    ) -> tuple[list[Record], list[int], list[int]]:
        """Records, their encoded sizes and the indices kept. A record that cannot be
        built or encoded is logged and counted (`unencodable`), never taking the rest
        of its batch with it."""
        recs: list[Record] = []
        sizes: list[int] = []
        kept: list[int] = []
        for i, item in enumerate(items):
            try:
                rec = build(item, self.task)
                size = len(rec.encoded())  # measured; the bytes are made again, once, to send
            except Exception:
                self.unencodable += 1
                if self.unencodable <= 5:
                    log.exception("router: a record could not be encoded; dropped and counted")
                continue
            recs.append(rec)
            sizes.append(size)
            kept.append(i)
        return recs, sizes, kept

    async def drain(self) -> None:
        """Every sink sends what it holds (no batch timeout) and its task ends. Unbounded:
        the caller puts it inside the shutdown deadline's cancel scope."""
        for r in self.runners:
            r.begin_drain(_deadline_of_current_scope())
        for r in self.runners:
            await r.wait_finished()

    async def stop(self, deadline_secs: float = 0.0, *, log_summary: bool = True) -> None:
        """Flush every sink concurrently within deadline_secs; then count what is left as
        dropped ("shutdown"), close the sinks and the router's task group."""
        if deadline_secs > 0:
            with anyio.move_on_after(deadline_secs):
                await self.drain()
        with anyio.CancelScope(shield=True):
            for r in self.runners:
                await r.abort()
            async with anyio.create_task_group() as closing:
                for r in self.runners:
                    closing.start_soon(r.close)
        if self._stats_scope is not None:
            self._stats_scope.cancel()
        if self._own_tg is not None:
            self._own_tg.cancel_scope.cancel()
            self._own_tg = None
            await self._tasks.aclose()
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

    async def _log_periodically(self, interval: float, scope: anyio.CancelScope) -> None:
        with scope:
            while True:
                await anyio.sleep(interval)
                self.log_stats()


def _deadline_of_current_scope() -> float | None:
    """The effective deadline of the enclosing cancel scopes (anyio.current_time()
    clock), or None when there is none: retries while draining must end by then."""
    deadline = anyio.current_effective_deadline()
    return None if deadline == float("inf") else deadline

"""The event-loop side (anyio): drain the tracer's hand-off, run the stage chain, route records.

One task moves batches from the tracer's hand-off into a queue bounded by events
and by (estimated) bytes; another runs the synchronous stage chain over each
batch (a task per stage would cost far more than the stages) and routes it. When
a "block" sink holds routing up, the queue fills and stops taking: the backlog
stays encoded (compact) in the capture core, whose own bound drops and counts
at the source (tracer stats `dropped`), or, with tracer.queue.when_full =
"block", stalls the tracee. So the agent's memory stays bounded. A fault in the
chain or the router is logged and counted, and the batch goes on unfiltered or
is counted lost; it never reaches back into the tracer thread, which keeps the
application running.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
import time
from typing import Any, Protocol

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from tracehound.agent.tracer.handoff import HandOff
from tracehound.event import Alert, Event

log = logging.getLogger("tracehound")

# The least time between two drains that a verdict-awaiting record woke (HandOff.arm_wake):
# a stream of new paths wakes the loop at most this often, and batches up meanwhile.
WAKE_MIN_INTERVAL = 0.001


class Chain(Protocol):
    def process(self, batch: list[Event]) -> tuple[list[Event], list[Alert]]: ...


class Route(Protocol):
    async def route(self, events: list[Event], alerts: list[Alert]) -> None: ...


class Pipeline:
    def __init__(
        self,
        handoff: HandOff,
        chain: Chain,
        router: Route,
        *,
        drain_interval: float = 0.01,
        stats_interval: float = 0.0,
        stats_source: Any = None,
        queue_max_events: int = 100_000,
        queue_max_bytes: int = 4 * 1024 * 1024,
        queue_block: bool = False,
    ) -> None:
        self.handoff = handoff
        self.chain = chain
        self.router = router
        self.drain_interval = drain_interval
        self._woken_at = 0.0  # when a record last woke the loop (_idle)
        self.stats_interval = stats_interval
        self.stats_source = stats_source  # anything with counters() (the tracer)
        self.counters = {"batches": 0, "events_in": 0, "chain_errors": 0, "route_errors": 0}
        self.queue_max_events = queue_max_events
        self.queue_max_bytes = queue_max_bytes
        self.queue_block = queue_block
        self.queued_events = 0
        self.queued_bytes = 0
        self._errors_logged = 0

    async def run(self) -> None:
        """Until the tracer has closed the hand-off and everything is drained."""
        tx, rx = anyio.create_memory_object_stream[tuple[list[Event], int]](math.inf)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._take_from_handoff, tx)
            async with rx:
                async for batch, nbytes in rx:
                    self.queued_events -= len(batch)
                    self.queued_bytes -= nbytes
                    await self._process(batch)

    def _queue_full(self, n: int, nbytes: int) -> bool:
        return (
            self.queued_events + n > self.queue_max_events
            or self.queued_bytes + nbytes > self.queue_max_bytes
        )

    async def _take_from_handoff(self, tx: MemoryObjectSendStream[tuple[list[Event], int]]) -> None:
        async with tx:
            while True:
                if self._queue_full(1, 0):
                    # Full: leave the backlog in the core (bounded, counted there).
                    await anyio.sleep(self.drain_interval)
                    continue
                closed = self.handoff.closed  # read before draining: nothing can follow it
                wake_fd = self.handoff.arm_wake()  # armed before draining: no record is missed
                batches = self.handoff.drain()
                for batch in batches:
                    nbytes = len(batch) * approx_event_bytes(batch[0])
                    self.queued_events += len(batch)
                    self.queued_bytes += nbytes
                    tx.send_nowait((batch, nbytes))
                if not batches:
                    if closed:
                        return
                    await self._idle(wake_fd)

    async def _idle(self, wake_fd: int | None) -> None:
        """Until the drain timer, or (wake_fd) a record whose verdict the core waits for."""
        if wake_fd is None:
            await anyio.sleep(self.drain_interval)
            return
        since = time.monotonic() - self._woken_at
        if since < WAKE_MIN_INTERVAL:
            await anyio.sleep(WAKE_MIN_INTERVAL - since)
        with anyio.move_on_after(self.drain_interval) as timer:
            await anyio.wait_readable(wake_fd)
        if not timer.cancelled_caught:
            self._woken_at = time.monotonic()
            with contextlib.suppress(BlockingIOError):
                os.read(wake_fd, 8)  # the eventfd's count back to 0

    async def report_periodically(self) -> None:
        """Counters on stderr every stats_interval, even while a sink holds up run()."""
        if not self.stats_interval:
            return
        while True:
            await anyio.sleep(self.stats_interval)
            self.log_stats()

    def abandon(self) -> int:
        """Shutdown deadline reached: count what is still queued as lost."""
        lost = self.queued_events
        while batches := self.handoff.drain():  # drain() takes a bounded share each time
            lost += sum(len(b) for b in batches)
        self.queued_events = self.queued_bytes = 0
        self.counters["lost"] = self.counters.get("lost", 0) + lost
        return lost

    async def discard_until_closed(self) -> None:
        """After a fatal pipeline fault: keep the hand-off moving (so a blocking
        queue never stalls the application), counting what is lost."""
        self.counters.setdefault("lost", 0)
        while True:
            closed = self.handoff.closed
            for batch in self.handoff.drain():
                self.counters["lost"] += len(batch)
            if closed:
                return
            await anyio.sleep(self.drain_interval)

    async def _process(self, batch: list[Event]) -> None:
        self.counters["batches"] += 1
        self.counters["events_in"] += len(batch)
        try:
            events, alerts = self.chain.process(batch)
        except Exception:
            self.counters["chain_errors"] += 1
            self._log_fault("stage chain")
            events, alerts = batch, []  # deliver unfiltered rather than lose them
        try:
            await self.router.route(events, alerts)
        except Exception:
            self.counters["route_errors"] += 1
            self._log_fault("router")

    def _log_fault(self, where: str) -> None:
        # The first few with a traceback, then only counted: a fault per batch
        # must not flood stderr.
        self._errors_logged += 1
        if self._errors_logged <= 5:
            log.exception("pipeline: %s failed; batch passed on unfiltered", where)

    def log_stats(self) -> None:
        stats: dict[str, Any] = dict(self.counters)
        # Records the router could not encode (each dropped alone, never its batch).
        stats["unencodable"] = getattr(self.router, "unencodable", 0)
        if self.stats_source is not None:
            stats = {**self.stats_source.counters(), **stats}
        print_stats("tracer", stats)


def print_stats(what: str, stats: dict[str, Any]) -> None:
    """One machine-readable line on the agent's stderr: `tracehound: <what> stats {json}`."""
    sys.stderr.write(f"tracehound: {what} stats {json.dumps(stats, sort_keys=True)}\n")
    sys.stderr.flush()


def approx_event_bytes(event: Event) -> int:
    """Rough memory held by one queued event: the object, its fields dict and their
    values (the process info is shared between events and not counted). One event
    stands for its whole batch, so this runs once per batch, not per event."""
    size = sys.getsizeof(event) + sys.getsizeof(event.fields)
    for value in event.fields.values():  # the keys are shared constants
        size += sys.getsizeof(value)
    return size

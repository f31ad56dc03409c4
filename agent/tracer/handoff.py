"""The hand-off between the capture core and the asyncio loop.

The core appends encoded records to a bounded buffer of its own (C, no GIL);
when it is full, syscall events are dropped and counted, or the tracee waits
(when_full = "block"); lifecycle records are never dropped. The loop drains it
on a short timer, or at once when a record comes whose verdict the core waits for
(arm_wake): drain() takes what was handed over so far (at most
DRAIN_MAX_BYTES; the pipeline drains again at once while there is more), turns
it into Events with the process table, and returns them in batches of up to
batch_max, so a quiet application's last events are never held back.
"""

from __future__ import annotations

import time
from typing import Any

from tracehound.agent.tracer.proctable import ProcessTable, Relevance
from tracehound.agent.tracer.skips import ExitSkips
from tracehound.event import Event

# What one drain takes at most (about 1,700 events): when the pipeline is behind,
# the backlog stays encoded in the core (compact, bounded) instead of becoming
# Python objects all at once.
DRAIN_MAX_BYTES = 1 << 18


class HandOff:
    def __init__(self, max_events: int, block: bool, batch_max: int = 256) -> None:
        self.max_events = max_events
        self.block = block
        self.batch_max = batch_max
        self.core: Any = None  # the tracer attaches its core and process table
        self.table: ProcessTable | None = None
        self.closed = False  # set by the tracer when the core is done
        self.injected: list[Event] = []  # events from outside the core (agent/outside.py)
        # Set when no sink takes events: the stage chain says which events can matter,
        # and the process table counts the repeats of those that cannot (proctable.py).
        self.relevance: Relevance | None = None

    def attach(self, core: Any, table: ProcessTable) -> None:
        self.core, self.table = core, table
        table.relevance = self.relevance
        if self.relevance is not None and hasattr(core, "skip_exits"):
            # Alerts only: opens whose result cannot matter may skip their exit stop.
            core.skip_exits()
            table.skips = ExitSkips(core)

    def drain(self) -> list[list[Event]]:
        """Loop side: everything handed over so far, in batches."""
        if self.core is None or self.table is None:
            return []
        closed = self.closed
        events: list[Event] = []
        while True:
            data, left = self.core.drain(DRAIN_MAX_BYTES)
            self.table.feed(data, events)
            # A share whose events were all filtered (proctable: relevance) hands over
            # nothing: take the next one, so that "no batches" still means "nothing left".
            if events or not data or not left:
                break
        self.table.settle_execs(time.time_ns(), events, everything=closed and not left)
        if self.injected:  # the same list: the scanner holds its append
            events += self.injected
            self.injected.clear()
        n = self.batch_max
        return [events[i : i + n] for i in range(0, len(events), n)]

    def arm_wake(self) -> int | None:
        """Before a drain: an fd that becomes readable when a record comes whose verdict
        the core waits for (every equal open takes its exit stop until the verdict is
        in: the loop should not sleep through its timer), or None (no verdicts)."""
        if self.table is None or self.table.skips is None:
            return None
        self.core.arm_learning()
        fd: int = self.core.learning_fd()
        return fd if fd >= 0 else None

    @property
    def dropped(self) -> int:
        return int(self.core.stats()["dropped"]) if self.core is not None else 0

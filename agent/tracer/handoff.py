"""The hand-off between the capture core and the asyncio loop.

The core appends encoded records to a bounded buffer of its own (C, no GIL);
when it is full, syscall events are dropped and counted, or the tracee waits
(when_full = "block"); lifecycle records are never dropped. The loop drains it
on a short timer: drain() takes everything handed over so far, turns it into
Events with the process table, and returns them in batches of up to batch_max,
so a quiet application's last events are never held back.
"""

from __future__ import annotations

import time
from typing import Any

from tracehound.agent.event import Event
from tracehound.agent.tracer.proctable import ProcessTable


class HandOff:
    def __init__(self, max_events: int, block: bool, batch_max: int = 256) -> None:
        self.max_events = max_events
        self.block = block
        self.batch_max = batch_max
        self.core: Any = None  # the tracer attaches its core and process table
        self.table: ProcessTable | None = None
        self.produced = 0  # events handed to the pipeline
        self.closed = False  # set by the tracer when the core is done

    def attach(self, core: Any, table: ProcessTable) -> None:
        self.core, self.table = core, table

    def drain(self) -> list[list[Event]]:
        """Loop side: everything handed over so far, in batches."""
        if self.core is None or self.table is None:
            return []
        closed = self.closed
        events: list[Event] = []
        self.table.feed(self.core.drain(), events)
        self.table.settle_execs(time.time_ns(), events, everything=closed)
        self.produced += len(events)
        n = self.batch_max
        return [events[i : i + n] for i in range(0, len(events), n)]

    @property
    def dropped(self) -> int:
        return int(self.core.stats()["dropped"]) if self.core is not None else 0

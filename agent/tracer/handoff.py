"""The bounded hand-off between the tracer thread and the asyncio loop.

The tracer appends each event to a deque (atomic under the GIL: no lock, no
syscall, no wake-up); the loop drains it on a short timer in batches of up to
`batch_max` events, so a quiet application's last events are never held back
waiting for a batch to fill. The fill level is derived from two counters, each
written by one side only, so neither needs a lock. When full, the tracer drops
and counts (the default: the tracee never stalls) or waits (when_full = "block").
"""

from __future__ import annotations

import collections
import time

from tracehound.agent.event import Event


class HandOff:
    def __init__(self, max_events: int, block: bool, batch_max: int = 256) -> None:
        self.max_events = max_events
        self.block = block
        self.batch_max = batch_max
        self._events: collections.deque[Event] = collections.deque()
        self.produced = 0  # written by the tracer thread only
        self.consumed = 0  # written by the loop thread only
        self.dropped = 0  # tracer thread only
        self.closed = False  # set by the tracer when it is done

    def push(self, event: Event) -> None:
        """Tracer side, once per event."""
        if self.produced - self.consumed >= self.max_events:
            if not self.block:
                self.dropped += 1
                return
            while self.produced - self.consumed >= self.max_events:
                time.sleep(0.001)  # the tracee stays stopped meanwhile: nothing lost
        self.produced += 1
        self._events.append(event)

    def drain(self) -> list[list[Event]]:
        """Loop side: everything handed over so far, in batches."""
        out = []
        popleft = self._events.popleft
        while self._events:
            n = min(len(self._events), self.batch_max)
            out.append([popleft() for _ in range(n)])
            self.consumed += n
        return out

    @property
    def pending(self) -> int:
        return self.produced - self.consumed

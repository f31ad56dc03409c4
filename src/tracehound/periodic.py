"""A loop that calls an async function every N seconds, in a task the caller's task
group owns (so leaving the group, or a failure in it, ends the loop too)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import TaskGroup

log = logging.getLogger("tracehound.periodic")


class Periodic:
    def __init__(self, interval: float, work: Callable[[], Awaitable[None]]) -> None:
        self.interval = interval
        self.work = work
        self._scope: anyio.CancelScope | None = None
        self._left = anyio.Event()

    def start(self, tg: TaskGroup) -> None:
        self._scope = anyio.CancelScope()
        tg.start_soon(self._loop, self._scope)

    async def _loop(self, scope: anyio.CancelScope) -> None:
        try:
            with scope:
                while True:
                    await anyio.sleep(self.interval)
                    try:
                        await self.work()
                    except Exception:  # a bug here must not end the agent's task group
                        log.exception("periodic %s failed", getattr(self.work, "__name__", "job"))
        finally:
            self._left.set()

    async def stop(self) -> None:
        """Return once the loop has left: a call in progress (a file being written by a
        worker thread) finishes first, so the caller's last call never races it."""
        if self._scope is None:
            return
        self._scope.cancel()
        await self._left.wait()
        self._scope = None

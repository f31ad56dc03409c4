"""SinkRunner: everything that makes a sink's I/O reliable, written once for all sinks.

One asyncio task per sink takes records from a bounded buffer, forms batches
(max_events, max_bytes, timeout_secs), lets the sink cut them into requests
(`split`), and sends each request with retries: exponential backoff with full
jitter, the server's Retry-After honoured. Every record ends up counted exactly
once: sent, or dropped with a reason. Nothing is discarded silently.

Drop reasons: buffer_full, rejected (the destination refused it for good),
retries_exhausted, too_large, shutdown, sink_failed (the runner task died).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tracehound.agent.record import Record
from tracehound.sinks import Sink
from tracehound.sinks._common import SinkBase
from tracehound.sinks.errors import FatalError, RetryableError

log = logging.getLogger("tracehound")

HEALTHCHECK_WAIT_SECS = 5.0


@dataclass
class SinkStats:
    sent_records: int = 0
    sent_batches: int = 0  # requests that succeeded
    retries: int = 0  # requests retried
    retried_records: int = 0  # records sent again: an upper bound on duplicates downstream
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> records
    last_error: str | None = None
    last_error_at: float | None = None  # time.time()

    def drop(self, reason: str, n: int) -> None:
        if n > 0:
            self.dropped[reason] = self.dropped.get(reason, 0) + n

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


class SinkRunner:
    def __init__(
        self,
        name: str,
        cfg: SinkBase,
        sink: Sink,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.cfg = cfg
        self.sink = sink
        self.stats = SinkStats()
        self._rng = rng or random.Random()
        self._buf: deque[tuple[Record, int]] = deque()
        self._buf_bytes = 0
        self._data = asyncio.Event()  # records were added (or stop was asked)
        self._room = asyncio.Event()  # records left the buffer
        self._stopping = False
        self._opened = False
        self._task: asyncio.Task[None] | None = None
        self._inflight: list[Record] = []  # the request being sent, not yet counted
        self._failing = False  # inside a streak of failures (log the first one only)
        self._health: asyncio.Task[None] | None = None

    # ----- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Open the sink and run its healthcheck. Failures are logged, never raised:
        a sink that cannot open now is retried when the first batch is sent. The
        application's start waits for a healthcheck at most HEALTHCHECK_WAIT_SECS;
        a slower one finishes (and is reported) in the background."""
        try:
            await asyncio.wait_for(self.sink.open(), min(self.cfg.request.timeout_secs, 10.0))
            self._opened = True
        except Exception as exc:
            self._note_error(f"open failed: {_describe(exc)}")
            log.error("sink %s: open failed (will retry on send): %s", self.name, _describe(exc))
        if self._opened and self.cfg.healthcheck.enabled:
            self._health = asyncio.create_task(self._healthcheck(), name=f"health:{self.name}")
            await asyncio.wait({self._health}, timeout=HEALTHCHECK_WAIT_SECS)
        self._task = asyncio.create_task(self._run(), name=f"sink:{self.name}")

    async def _healthcheck(self) -> None:
        try:
            await asyncio.wait_for(self.sink.healthcheck(), self.cfg.request.timeout_secs)
            log.info("sink %s: healthcheck passed", self.name)
        except Exception as exc:
            self._note_error(f"healthcheck failed: {_describe(exc)}")
            log.error("sink %s: healthcheck failed: %s", self.name, _describe(exc))

    async def drain(self) -> None:
        """Send everything buffered (no batch timeout), then return. Retries still apply;
        the caller bounds this with its deadline and then calls abort()."""
        self._stopping = True
        self._data.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)

    async def abort(self) -> None:
        """Stop now: whatever is still held is counted as dropped (reason "shutdown")."""
        self._stopping = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        lost = len(self._inflight) + len(self._buf)
        if lost:
            self.stats.drop("shutdown", lost)
            log.error("sink %s: %d records not delivered before the deadline", self.name, lost)
        self._inflight = []
        self._clear_buffer()

    async def close(self) -> None:
        if self._health is not None and not self._health.done():
            self._health.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health
        if self._opened:
            try:
                await asyncio.wait_for(self.sink.close(), 5.0)
            except Exception as exc:
                log.warning("sink %s: close failed: %s", self.name, _describe(exc))
            self._opened = False

    # ----- input -------------------------------------------------------------------

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def _alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def offer(self, records: list[Record], sizes: list[int]) -> int:
        """Take as many records as fit without waiting; return how many were taken.
        With when_full = "drop_newest" the rest are counted as dropped here."""
        if not self._alive() and self._task is not None:
            self.stats.drop("shutdown" if self._stopping else "sink_failed", len(records))
            return len(records)
        room = self.cfg.buffer.max_events - len(self._buf)
        n = min(room, len(records))
        if n > 0:
            for i in range(n):
                self._buf.append((records[i], sizes[i]))
                self._buf_bytes += sizes[i]
            self._data.set()
        if n < len(records) and self.cfg.buffer.when_full == "drop_newest":
            self.stats.drop("buffer_full", len(records) - n)
            return len(records)
        return n

    async def put(self, records: list[Record], sizes: list[int]) -> None:
        """Take every record, waiting for room when when_full = "block"."""
        done = self.offer(records, sizes)
        while done < len(records):
            self._room.clear()
            await self._room.wait()
            done += self.offer(records[done:], sizes[done:])

    # ----- the task ------------------------------------------------------------------

    def _batch_full(self) -> bool:
        b = self.cfg.batch
        return len(self._buf) >= b.max_events or self._buf_bytes >= b.max_bytes

    async def _run(self) -> None:
        try:
            while True:
                while not self._buf:
                    if self._stopping:
                        return
                    self._data.clear()
                    await self._data.wait()
                if not self._stopping and not self._batch_full():
                    await self._wait_for_batch()
                batch = self._take_batch()
                self._room.set()
                await self._deliver(batch)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must be visible, and must not hang route()
            log.exception("sink %s: runner failed; its records are counted as dropped", self.name)
            self._note_error(f"runner failed: {_describe(exc)}")
            self.stats.drop("sink_failed", len(self._inflight) + len(self._buf))
            self._inflight = []
            self._clear_buffer()
            self._room.set()

    async def _wait_for_batch(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cfg.batch.timeout_secs
        while not self._batch_full() and not self._stopping:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._data.clear()
            try:
                await asyncio.wait_for(self._data.wait(), remaining)
            except TimeoutError:
                return

    def _take_batch(self) -> list[Record]:
        b = self.cfg.batch
        batch: list[Record] = []
        nbytes = 0
        while self._buf and len(batch) < b.max_events:
            rec, size = self._buf[0]
            if batch and nbytes + size > b.max_bytes:
                break
            self._buf.popleft()
            self._buf_bytes -= size
            nbytes += size
            batch.append(rec)
        return batch

    def _clear_buffer(self) -> None:
        self._buf.clear()
        self._buf_bytes = 0
        self._room.set()

    async def _deliver(self, batch: list[Record]) -> None:
        self._inflight = batch  # until split() returns, the whole batch is at stake
        chunks = self.sink.split(batch)
        self.stats.drop("too_large", len(batch) - sum(len(c) for c in chunks))
        for i, chunk in enumerate(chunks):
            # What is still at stake: this chunk and the ones after it.
            self._inflight = [r for c in chunks[i:] for r in c]
            await self._send(chunk)
        self._inflight = []

    async def _send(self, chunk: list[Record]) -> None:
        req = self.cfg.request
        attempt = 0
        while True:
            try:
                if not self._opened:
                    await asyncio.wait_for(self.sink.open(), req.timeout_secs)
                    self._opened = True
                rejected = await asyncio.wait_for(self.sink.send(chunk), req.timeout_secs)
            except FatalError as exc:
                self._note_error(str(exc))
                self.stats.drop("rejected", len(chunk))
                log.error("sink %s: %d records rejected: %s", self.name, len(chunk), exc)
                return
            except RetryableError as exc:
                err, retry_after = str(exc), exc.retry_after
            except TimeoutError:
                err, retry_after = f"no answer within {req.timeout_secs}s", None
            except Exception as exc:  # unexpected errors from a sink are treated as transient
                err, retry_after = _describe(exc), None
            else:
                n_rejected = rejected or 0
                self.stats.sent_records += len(chunk) - n_rejected
                self.stats.sent_batches += 1
                self.stats.drop("rejected", n_rejected)
                if self._failing:
                    self._failing = False
                    log.info("sink %s: delivering again", self.name)
                return
            self._note_error(err)
            if attempt >= req.retry_attempts:
                self.stats.drop("retries_exhausted", len(chunk))
                log.error(
                    "sink %s: %d records dropped after %d retries: %s",
                    self.name,
                    len(chunk),
                    attempt,
                    err,
                )
                return
            if not self._failing:
                self._failing = True
                log.warning("sink %s: send failed, retrying: %s", self.name, err)
            delay = self.backoff(attempt, retry_after)
            attempt += 1
            self.stats.retries += 1
            self.stats.retried_records += len(chunk)
            await asyncio.sleep(delay)

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Full jitter: uniform(0, min(cap, initial * 2**attempt)). A server's Retry-After
        is a floor, still capped by retry_max_duration_secs."""
        req = self.cfg.request
        cap = req.retry_max_duration_secs
        delay = self._rng.uniform(
            0, min(cap, req.retry_initial_backoff_secs * 2.0 ** min(attempt, 62))
        )
        if retry_after is not None:
            delay = max(delay, min(retry_after, cap))
        return delay

    def _note_error(self, message: str) -> None:
        self.stats.last_error = message
        self.stats.last_error_at = time.time()

    # ----- reporting -------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        s = self.stats
        out: dict[str, Any] = {
            "type": self.cfg.type,
            "sent_records": s.sent_records,
            "sent_batches": s.sent_batches,
            "retries": s.retries,
            "retried_records": s.retried_records,
            "dropped": dict(s.dropped),
            "dropped_total": s.dropped_total,
            "buffered": len(self._buf) + len(self._inflight),
            "last_error": s.last_error,
            "last_error_at": s.last_error_at,
        }
        out.update(getattr(self.sink, "counters", {}))
        return out


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

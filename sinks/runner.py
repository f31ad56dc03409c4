"""SinkRunner: everything that makes a sink's I/O reliable, written once for all sinks.

One task per sink (owned by the router's task group) takes records from a
bounded anyio memory object stream, forms batches
(max_events, max_bytes, timeout_secs), lets the sink cut them into requests
(`split`), and sends each request with retries: exponential backoff with full
jitter, the server's Retry-After honoured. Every record ends up counted exactly
once: sent, or dropped with a reason. Nothing is discarded silently.

Drop reasons: buffer_full, rejected (the destination refused it for good),
retries_exhausted, too_large, shutdown, sink_failed (the runner task died).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup

from tracehound.record import Record
from tracehound.sinks import Sink
from tracehound.sinks._common import SinkBase
from tracehound.sinks.errors import FatalError, RetryableError

log = logging.getLogger("tracehound")

HEALTHCHECK_WAIT_SECS = 5.0
# While draining, a backoff sleep takes at most this share of the time left before the
# shutdown deadline: the rest is for the attempts after it (a destination that comes
# back late still gets everything).
DRAIN_SLEEP_SHARE = 0.25


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
    """One sink's buffer and delivery task.

    The buffer is an anyio memory object stream of (record, encoded size); its
    max_buffer_size (buffer.max_events) is the bound. The task reads it only when
    a batch is due (full, timed out, or draining), so everything waiting counts
    against the bound until it is taken for delivery.
    """

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
        self._tx, self._rx = anyio.create_memory_object_stream[tuple[Record, int]](
            cfg.buffer.max_events
        )
        self._max_size = cfg.buffer.max_size  # bytes: the memory bound
        self._queued = 0  # records in the stream (sent, not yet received)
        self._buf_bytes = 0  # their encoded size
        self._carry: tuple[Record, int] | None = None  # taken, did not fit the last batch
        self._data = anyio.Event()  # set when records arrive or draining starts
        self._stopping = False  # drain asked: no batch timeout, end when empty
        self._started = False
        self._finished = anyio.Event()  # the task has returned (drained, failed or aborted)
        self._failed = False
        self._opened = False
        self._scope: anyio.CancelScope | None = None  # the task's, for abort()
        self._health_scope: anyio.CancelScope | None = None
        self._inflight: list[Record] = []  # the request being sent, not yet counted
        self._failing = False  # inside a streak of failures (log the first one only)
        self._send_deadline: float | None = None  # draining: retries must end by then
        self._draining = anyio.Event()  # wakes a backoff sleep when draining starts

    # ----- lifecycle -------------------------------------------------------------

    async def start(self, tg: TaskGroup) -> None:
        """Open the sink and run its healthcheck, then start the delivery task in `tg`.

        Failures are logged, never raised: a sink that cannot open now is retried
        when the first batch is sent. The application's start waits for a
        healthcheck at most HEALTHCHECK_WAIT_SECS; a slower one finishes (and is
        reported) in the background, owned by `tg`."""
        try:
            with anyio.fail_after(min(self.cfg.request.timeout_secs, 10.0)):
                await self.sink.open()
            self._opened = True
        except Exception as exc:
            self._note_error(f"open failed: {_describe(exc)}")
            log.error("sink %s: open failed (will retry on send): %s", self.name, _describe(exc))
        if self._opened and self.cfg.healthcheck.enabled:
            done = anyio.Event()
            self._health_scope = anyio.CancelScope()
            tg.start_soon(self._healthcheck, self._health_scope, done, name=f"health:{self.name}")
            with anyio.move_on_after(HEALTHCHECK_WAIT_SECS):
                await done.wait()
        self._scope = anyio.CancelScope()
        self._started = True
        tg.start_soon(self._run, self._scope, name=f"sink:{self.name}")

    async def _healthcheck(self, scope: anyio.CancelScope, done: anyio.Event) -> None:
        with scope:
            try:
                with anyio.fail_after(self.cfg.request.timeout_secs):
                    await self.sink.healthcheck()
                log.info("sink %s: healthcheck passed", self.name)
            except Exception as exc:
                self._note_error(f"healthcheck failed: {_describe(exc)}")
                log.error("sink %s: healthcheck failed: %s", self.name, _describe(exc))
            finally:
                done.set()

    def begin_drain(self, deadline: float | None = None) -> None:
        """Send everything buffered (no batch timeout), then end the task. Retries still
        apply, but none waits past `deadline` (anyio.current_time()) when one is given."""
        self._stopping = True
        self._send_deadline = deadline
        self._data.set()
        self._draining.set()

    async def wait_finished(self) -> None:
        if self._started:
            await self._finished.wait()

    async def drain(self) -> None:
        """begin_drain() and wait for the task; the caller bounds this with a cancel scope."""
        self.begin_drain()
        await self.wait_finished()

    async def abort(self) -> None:
        """Stop now: whatever is still held is counted as dropped (reason "shutdown")."""
        self._stopping = True
        if self._scope is not None:
            self._scope.cancel()
            await self.wait_finished()
        lost = len(self._inflight) + self._take_all()
        if lost:
            self.stats.drop("shutdown", lost)
            log.error("sink %s: %d records not delivered before the deadline", self.name, lost)
        self._inflight = []
        self._rx.close()  # senders still waiting in put() get BrokenResourceError

    async def close(self) -> None:
        if self._health_scope is not None:
            self._health_scope.cancel()
        if self._opened:
            try:
                with anyio.fail_after(5.0):
                    await self.sink.close()
            except Exception as exc:
                log.warning("sink %s: close failed: %s", self.name, _describe(exc))
            self._opened = False

    # ----- input -------------------------------------------------------------------

    @property
    def buffered(self) -> int:
        return self._queued + (self._carry is not None)

    def _closed_reason(self) -> str:
        return "sink_failed" if self._failed else "shutdown"

    def offer(self, records: list[Record], sizes: list[int]) -> int:
        """Take as many records as fit without waiting; return how many were taken.
        With when_full = "drop_newest" the rest are counted as dropped here."""
        send_nowait = self._tx.send_nowait
        # How many fit under the byte bound (one pass over the sizes, no per-record
        # attribute writes: this runs for every record of every sink).
        room = self._max_size - self._buf_bytes
        fit = 0
        for size in sizes:
            room -= size
            if room < 0:
                break
            fit += 1
        n = 0
        try:
            for item in zip(records[:fit], sizes[:fit], strict=True):
                send_nowait(item)
                n += 1
        except anyio.WouldBlock:
            pass
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self.stats.drop(self._closed_reason(), len(records) - n)
            return len(records)
        finally:
            if n:
                self._queued += n
                self._buf_bytes += sum(sizes[:n]) if n < len(sizes) else sum(sizes)
                self._data.set()
        if n == fit < len(records):
            self.stats.drop("buffer_max_size", len(records) - n)
            return len(records)
        if n < len(records) and self.cfg.buffer.when_full == "drop_newest":
            self.stats.drop("buffer_full", len(records) - n)
            return len(records)
        return n

    async def put(self, records: list[Record], sizes: list[int]) -> None:
        """Take every record, waiting for room when when_full = "block". Records that
        can never be taken (the runner stopped or failed, or the caller is cancelled
        by the shutdown deadline) are counted as dropped."""
        done = self.offer(records, sizes)
        try:
            while done < len(records):
                if self._buf_bytes + sizes[done] > self._max_size:
                    self.stats.drop("buffer_max_size", len(records) - done)
                    return
                # Counted before waiting: the runner (or abort) may take the record
                # straight from this waiting send, and must find it counted.
                self._queued += 1
                self._buf_bytes += sizes[done]
                try:
                    await self._tx.send((records[done], sizes[done]))
                except BaseException:
                    self._queued -= 1
                    self._buf_bytes -= sizes[done]
                    raise
                done += 1
                self._data.set()
                done += self.offer(records[done:], sizes[done:])
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self.stats.drop(self._closed_reason(), len(records) - done)
        except anyio.get_cancelled_exc_class():
            self.stats.drop("shutdown", len(records) - done)
            raise

    # ----- the task ------------------------------------------------------------------

    def _batch_full(self) -> bool:
        b = self.cfg.batch
        return self.buffered >= b.max_events or self._buf_bytes >= b.max_bytes

    async def _wait_for_more(self) -> None:
        """Until offer() or put() adds records, or draining starts."""
        self._data = anyio.Event()
        await self._data.wait()

    async def _run(self, scope: anyio.CancelScope) -> None:
        with scope:
            try:
                while True:
                    while not self.buffered:
                        if self._stopping:
                            return
                        await self._wait_for_more()
                    if not self._stopping and not self._batch_full():
                        with anyio.move_on_after(self.cfg.batch.timeout_secs):
                            while not self._batch_full() and not self._stopping:
                                await self._wait_for_more()
                    await self._deliver(self._take_batch())
            except Exception as exc:  # a bug here must be visible, and must not hang route()
                log.exception(
                    "sink %s: runner failed; its records are counted as dropped", self.name
                )
                self._note_error(f"runner failed: {_describe(exc)}")
                self._failed = True
                self.stats.drop("sink_failed", len(self._inflight) + self._take_all())
                self._inflight = []
                self._rx.close()  # waiting and later senders count their records
            finally:
                self._finished.set()

    def _receive(self) -> tuple[Record, int] | None:
        if self._carry is not None:
            item, self._carry = self._carry, None
        else:
            try:
                item = self._rx.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                return None
            self._queued -= 1
        self._buf_bytes -= item[1]
        return item

    def _take_batch(self) -> list[Record]:
        b = self.cfg.batch
        max_events, max_bytes = b.max_events, b.max_bytes
        batch: list[Record] = []
        nbytes = 0
        if self._carry is not None:
            rec, nbytes = self._carry
            self._carry = None
            batch.append(rec)
        receive = self._rx.receive_nowait
        taken = 0
        try:
            while len(batch) < max_events:
                item = receive()
                taken += 1
                rec, size = item
                if batch and nbytes + size > max_bytes:
                    self._carry = item  # first of the next batch
                    break
                nbytes += size
                batch.append(rec)
        except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
            pass
        self._queued -= taken
        self._buf_bytes -= nbytes
        return batch

    def _take_all(self) -> int:
        """Empty the buffer (on abort or failure); return how many records it held."""
        n = 0
        while self._receive() is not None:
            n += 1
        self._buf_bytes = 0
        return n

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
                with anyio.fail_after(req.timeout_secs):
                    if not self._opened:
                        await self.sink.open()
                        self._opened = True
                    rejected = await self.sink.send(chunk)
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
                # A sink that retries only the failed part of a chunk knows how much is in.
                done = getattr(self.sink, "delivered", lambda _c: 0)(chunk)
                self.stats.sent_records += done
                self.stats.drop("retries_exhausted", len(chunk) - done)
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
            delay = self.backoff(attempt, retry_after, self._time_left())
            attempt += 1
            self.stats.retries += 1
            self.stats.retried_records += len(chunk)
            await self._sleep(delay)

    def _time_left(self) -> float | None:
        """Seconds until the shutdown deadline while draining; None otherwise."""
        if self._send_deadline is None:
            return None
        return max(0.0, self._send_deadline - anyio.current_time())

    async def _sleep(self, delay: float) -> None:
        """A backoff sleep that draining cuts short: a sleep drawn before the shutdown
        began must not outlast the deadline either."""
        end = anyio.current_time() + delay
        if not self._draining.is_set():
            with anyio.move_on_after(delay):
                await self._draining.wait()
        left = self._time_left()
        rest = end - anyio.current_time()
        if left is not None:
            rest = min(rest, left * DRAIN_SLEEP_SHARE)
        if rest > 0:
            await anyio.sleep(rest)

    def backoff(
        self, attempt: int, retry_after: float | None = None, time_left: float | None = None
    ) -> float:
        """Full jitter: uniform(0, min(cap, initial * 2**attempt)). A server's Retry-After
        is used as given (up to retry_max_duration_secs). While draining (`time_left`
        until the shutdown deadline), no sleep takes more than DRAIN_SLEEP_SHARE of the
        time left, so attempts keep coming until the deadline."""
        req = self.cfg.request
        cap = req.retry_max_duration_secs
        if retry_after is not None:
            delay = min(retry_after, cap)
        else:
            delay = self._rng.uniform(
                0, min(cap, req.retry_initial_backoff_secs * 2.0 ** min(attempt, 62))
            )
        if time_left is not None:
            delay = min(delay, time_left * DRAIN_SLEEP_SHARE)
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
            "buffered": self.buffered + len(self._inflight),
            "last_error": s.last_error,
            "last_error_at": s.last_error_at,
        }
        out.update(getattr(self.sink, "counters", {}))
        return out


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

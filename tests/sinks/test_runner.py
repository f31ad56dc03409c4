"""The runner and router, with an in-memory sink: buffering, batching, retries, counters."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import anyio
import pytest
from sinkhelp import FAST_REQUEST, make_alert, make_event, route_all, seqs, sink_cfg

from tracehound.agent.router import Router
from tracehound.sinks._common import BaseSink
from tracehound.sinks.errors import FatalError, RetryableError
from tracehound.sinks.runner import SinkRunner


class MemorySink(BaseSink):
    """Keeps what it is sent. Knobs: a gate to hold sends, failures to raise, a split hook."""

    def __init__(self, name: str = "mem") -> None:
        super().__init__(name)
        self.batches: list[list[dict[str, Any]]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.failures: list[Exception] = []  # raised by the next sends, in order
        self.rejected_per_send = 0
        self.open_failures = 0
        self.healthy = True
        self.max_split: int | None = None
        self.too_large_seq: int | None = None
        self.closed = False

    async def open(self) -> None:
        if self.open_failures > 0:
            self.open_failures -= 1
            raise OSError("cannot open yet")

    async def healthcheck(self) -> None:
        if not self.healthy:
            raise RuntimeError("unhealthy")

    def split(self, records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        if self.too_large_seq is not None:
            records = [r for r in records if r["output_fields"]["test.seq"] != self.too_large_seq]
        if self.max_split:
            return [records[i : i + self.max_split] for i in range(0, len(records), self.max_split)]
        return [records]

    async def send(self, records: list[dict[str, Any]]) -> int | None:
        await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        self.batches.append(records)
        return self.rejected_per_send

    async def close(self) -> None:
        self.closed = True

    @property
    def records(self) -> list[dict[str, Any]]:
        return [r for b in self.batches for r in b]


def make_router(*sinks: tuple[BaseSink, dict[str, Any]]) -> Router:
    runners = []
    for sink, raw in sinks:
        raw = {"type": "stdout", "inputs": ["events", "alerts"], "request": FAST_REQUEST, **raw}
        runners.append(SinkRunner(sink.name, sink_cfg(**raw), sink, rng=random.Random(1)))  # type: ignore[arg-type]
    return Router(runners)


def accounted(router: Router, name: str) -> int:
    s = router.stats()[name]
    return int(s["sent_records"] + s["dropped_total"])


async def until(cond: Any, timeout: float = 10.0) -> None:
    """Wait for a condition to hold (correctness, not speed: the timeout is generous)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.005)


async def test_batches_by_max_events() -> None:
    sink = MemorySink()
    router = make_router((sink, {"batch": {"max_events": 10, "timeout_secs": 5}}))
    await router.start()
    await route_all(router, 35, chunk=35)
    await router.stop(5)
    assert [len(b) for b in sink.batches] == [10, 10, 10, 5]
    assert seqs(sink.records) == list(range(35))
    st = router.stats()["mem"]
    assert st["sent_records"] == 35 and st["sent_batches"] == 4 and st["dropped_total"] == 0
    assert sink.closed


async def test_batches_by_max_bytes() -> None:
    sink = MemorySink()
    router = make_router((sink, {"batch": {"max_events": 1000, "max_bytes": 2000}}))
    await router.start()
    await route_all(router, 20, chunk=20)
    await router.stop(5)
    assert len(sink.batches) > 1
    assert seqs(sink.records) == list(range(20))


async def test_batch_timeout_sends_partial_batch() -> None:
    sink = MemorySink()
    router = make_router((sink, {"batch": {"max_events": 1000, "timeout_secs": 0.05}}))
    await router.start()
    await route_all(router, 3)
    await until(lambda: len(sink.records) == 3)  # without stop(): the timeout sent it
    await router.stop(5)
    assert [len(b) for b in sink.batches] == [3]


async def test_drop_newest_never_waits_and_counts() -> None:
    sink = MemorySink()
    sink.gate.clear()
    router = make_router((sink, {"buffer": {"max_events": 10, "when_full": "drop_newest"}}))
    await router.start()
    await asyncio.wait_for(route_all(router, 50, chunk=50), 5)  # returns although the sink is stuck
    st = router.stats()["mem"]
    assert st["dropped"] == {"buffer_full": 40}
    sink.gate.set()
    await router.stop(5)
    assert seqs(sink.records) == list(range(10))
    assert accounted(router, "mem") == 50


async def test_block_waits_for_room_and_loses_nothing() -> None:
    sink = MemorySink()
    sink.gate.clear()
    router = make_router(
        (sink, {"buffer": {"max_events": 10}, "batch": {"max_events": 5, "timeout_secs": 0.01}})
    )
    await router.start()
    routing = asyncio.create_task(route_all(router, 50, chunk=50))
    await asyncio.sleep(0.1)
    assert not routing.done()  # back-pressure: the sink is stuck and its buffer full
    sink.gate.set()
    await asyncio.wait_for(routing, 10)
    await router.stop(5)
    assert seqs(sink.records) == list(range(50))
    assert router.stats()["mem"]["dropped_total"] == 0


async def test_stuck_sink_does_not_delay_another() -> None:
    stuck, fast = MemorySink("stuck"), MemorySink("fast")
    stuck.gate.clear()
    router = make_router(
        (
            stuck,
            {
                "buffer": {"max_events": 5, "when_full": "drop_newest"},
                "batch": {"timeout_secs": 30},
            },
        ),
        (fast, {"batch": {"timeout_secs": 0.01}}),
    )
    await router.start()
    await asyncio.wait_for(route_all(router, 100, chunk=10), 5)
    await until(lambda: len(fast.records) == 100)
    await router.stop(0.2)
    assert seqs(fast.records) == list(range(100))
    assert accounted(router, "stuck") == 100  # 5 lost to the deadline, 95 to a full buffer
    assert router.stats()["stuck"]["dropped"] == {"buffer_full": 95, "shutdown": 5}


async def test_block_sink_gets_no_priority_over_others() -> None:
    # The "block" sink is full: route() waits, but the other sink got this batch already.
    stuck, fast = MemorySink("stuck"), MemorySink("fast")
    stuck.gate.clear()
    router = make_router(
        (stuck, {"buffer": {"max_events": 5}, "batch": {"timeout_secs": 30}}),
        (fast, {"batch": {"timeout_secs": 0.01}}),
    )
    await router.start()
    routing = asyncio.create_task(route_all(router, 20, chunk=20))
    await until(lambda: len(fast.records) == 20)
    assert not routing.done()
    await router.stop(0.2)
    await asyncio.wait_for(routing, 5)  # released by stop(): counted, not hung
    assert accounted(router, "stuck") == 20
    assert router.stats()["stuck"]["dropped"]["shutdown"] == 20


async def test_retries_then_delivers() -> None:
    sink = MemorySink()
    sink.failures = [RetryableError("503"), RetryableError("503"), TimeoutError()]
    router = make_router((sink, {}))
    await router.start()
    await route_all(router, 10)
    await router.stop(10)
    st = router.stats()["mem"]
    assert seqs(sink.records) == list(range(10))
    assert st["retries"] == 3 and st["retried_records"] == 30 and st["dropped_total"] == 0
    assert st["last_error"]


async def test_unexpected_exception_is_retried() -> None:
    sink = MemorySink()
    sink.failures = [KeyError("bug in a sink")]
    router = make_router((sink, {}))
    await router.start()
    await route_all(router, 3)
    await router.stop(10)
    assert seqs(sink.records) == [0, 1, 2]
    assert "KeyError" in router.stats()["mem"]["last_error"]


async def test_retries_exhausted_are_counted() -> None:
    sink = MemorySink()
    sink.failures = [RetryableError("down")] * 10
    req = {**FAST_REQUEST, "retry_attempts": 2}
    router = make_router((sink, {"request": req}))
    await router.start()
    await route_all(router, 7)
    await router.stop(10)
    st = router.stats()["mem"]
    assert st["dropped"] == {"retries_exhausted": 7} and st["retries"] == 2
    assert st["sent_records"] == 0 and st["last_error"] == "down"


async def test_fatal_error_is_not_retried() -> None:
    sink = MemorySink()
    sink.failures = [FatalError("HTTP 400: bad")]
    router = make_router((sink, {}))
    await router.start()
    await route_all(router, 4)
    await router.stop(10)
    st = router.stats()["mem"]
    assert st["dropped"] == {"rejected": 4} and st["retries"] == 0


async def test_partial_rejection_and_too_large_are_counted() -> None:
    sink = MemorySink()
    sink.rejected_per_send = 1
    sink.too_large_seq = 3
    sink.max_split = 2
    router = make_router((sink, {"batch": {"max_events": 10, "timeout_secs": 5}}))
    await router.start()
    await route_all(router, 10, chunk=10)
    await router.stop(10)
    st = router.stats()["mem"]
    # 9 records in 5 requests of at most 2; each request had one refused.
    assert st["sent_batches"] == 5 and st["sent_records"] == 4
    assert st["dropped"] == {"too_large": 1, "rejected": 5}
    assert accounted(router, "mem") == 10


async def test_shutdown_counts_what_misses_the_deadline() -> None:
    sink = MemorySink()
    sink.gate.clear()
    router = make_router((sink, {}))
    await router.start()
    await route_all(router, 30)
    await router.stop(0.1)
    assert router.stats()["mem"]["dropped"] == {"shutdown": 30}
    # After stop, nothing is accepted silently either.
    await router.route([make_event(99)], [])
    assert router.stats()["mem"]["dropped"] == {"shutdown": 31}


async def test_shutdown_delivers_pending_records_of_a_slow_sink() -> None:
    sink = MemorySink()
    sink.failures = [RetryableError("slow start")] * 5
    router = make_router((sink, {"batch": {"max_events": 7, "timeout_secs": 30}}))
    await router.start()
    await route_all(router, 100)
    await router.stop(20)  # the 30 s batch timeout does not hold records back at shutdown
    assert seqs(sink.records) == list(range(100))
    assert router.stats()["mem"]["dropped_total"] == 0


async def test_routing_by_inputs_and_minimum_priority() -> None:
    alerts_only, events_only = MemorySink("alerts"), MemorySink("events")
    router = make_router(
        (alerts_only, {"inputs": ["alerts"], "minimum_priority": "warning"}),
        (events_only, {"inputs": ["events"], "minimum_priority": "emergency"}),
    )
    await router.start()
    alerts = [make_alert(1, "Critical"), make_alert(2, "Warning"), make_alert(3, "Notice")]
    await router.route([make_event(10), make_event(11)], alerts)
    await router.stop(5)
    assert seqs(alerts_only.records) == [1, 2]
    assert all("rule" in r for r in alerts_only.records)
    assert seqs(events_only.records) == [10, 11]  # events ignore minimum_priority
    assert all("rule" not in r for r in events_only.records)


async def test_open_failure_is_retried_on_send(caplog: pytest.LogCaptureFixture) -> None:
    sink = MemorySink()
    sink.open_failures = 2  # once at start, once at the first send
    router = make_router((sink, {}))
    await router.start()  # does not raise
    await route_all(router, 5)
    await router.stop(10)
    assert seqs(sink.records) == list(range(5))
    assert "open failed" in caplog.text


async def test_failing_healthcheck_is_reported_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    sink = MemorySink()
    sink.healthy = False
    router = make_router((sink, {}))
    with caplog.at_level(logging.INFO, logger="tracehound"):
        await router.start()
        await route_all(router, 2)
        await router.stop(5)
    assert "healthcheck failed" in caplog.text
    assert seqs(sink.records) == [0, 1]
    assert "final: sink mem (stdout): sent=2 batches=1" in caplog.text


async def test_runner_bug_does_not_hang_route(caplog: pytest.LogCaptureFixture) -> None:
    sink = MemorySink()

    def broken(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        raise RuntimeError("bug")

    sink.split = broken  # type: ignore[method-assign]
    router = make_router((sink, {"buffer": {"max_events": 5}, "batch": {"max_events": 5}}))
    await router.start()
    await asyncio.wait_for(route_all(router, 20, chunk=20), 5)
    await router.stop(5)
    assert accounted(router, "mem") == 20
    assert router.stats()["mem"]["dropped"]["sink_failed"] == 20
    assert "runner failed" in caplog.text


async def test_periodic_stats(caplog: pytest.LogCaptureFixture) -> None:
    router = make_router((MemorySink(), {}))
    with caplog.at_level(logging.INFO, logger="tracehound"):
        await router.start(stats_interval_secs=0.01)
        await until(lambda: "sink mem (stdout): sent=0" in caplog.text)
        await router.stop(5)


def test_backoff_is_full_jitter_and_honours_retry_after() -> None:
    cfg = sink_cfg(
        type="stdout",
        request={"retry_initial_backoff_secs": 1.0, "retry_max_duration_secs": 30.0},
    )
    runner = SinkRunner("x", cfg, MemorySink(), rng=random.Random(7))
    for attempt in range(12):
        ceiling = min(30.0, 2.0**attempt)
        delays = [runner.backoff(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # spread over the whole range, not a fixed step
    assert 5.0 <= runner.backoff(0, retry_after=5.0) <= 5.0 + 1.0
    assert runner.backoff(0, retry_after=1000.0) <= 30.0  # capped


async def test_hanging_healthcheck_does_not_hold_the_start(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import tracehound.sinks.runner as runner_mod

    monkeypatch.setattr(runner_mod, "HEALTHCHECK_WAIT_SECS", 0.05)
    sink = MemorySink()
    never = asyncio.Event()

    async def hang() -> None:
        await never.wait()

    sink.healthcheck = hang  # type: ignore[method-assign]
    router = make_router((sink, {"request": {**FAST_REQUEST, "timeout_secs": 0.3}}))
    async with anyio.create_task_group() as tg:  # owns the runner and the healthcheck
        with anyio.fail_after(5):
            await router.start(tg=tg)  # returns although the healthcheck has not
        await route_all(router, 3)
        await until(lambda: "healthcheck failed" in caplog.text)  # its timeout is still reported
        await router.stop(5)
    assert seqs(sink.records) == [0, 1, 2]

"""Retries while draining fit the shutdown deadline: a destination that comes back
before the deadline gets everything buffered."""

from __future__ import annotations

import random
import time

import anyio
from sinkhelp import Siem, free_port, route_all, seqs, sink_cfg

from tracehound.agent.router import Router
from tracehound.sinks import build_sink
from tracehound.sinks.runner import SinkRunner

DEADLINE = 25.0  # the agent's default shutdown_timeout_secs


async def test_outage_then_503s_then_retry_after_delivers_everything() -> None:
    # The SIEM is down for 2 s, then answers 503 four times and 429 with Retry-After: 1
    # twice, then 200. The agent is already shutting down (draining) the whole time.
    port = free_port()
    siem = Siem(port=port, script=[(503, None)] * 4 + [(429, "1")] * 2)
    cfg = sink_cfg(
        type="webhook",
        url=siem.url,
        inputs=["events"],
        batch={"max_events": 500},
        healthcheck={"enabled": False},
    )  # default request options: 10 retries, backoff from 1 s up to 30 s, full jitter
    router = Router([SinkRunner("siem", cfg, build_sink("siem", cfg), rng=random.Random(3))])

    async def come_back() -> None:
        await anyio.sleep(2.0)
        await siem.start()

    started = time.monotonic()
    try:
        async with anyio.create_task_group() as tg:
            await router.start(tg=tg)
            await route_all(router, 2000, chunk=250)
            tg.start_soon(come_back)
            await router.stop(DEADLINE)
    finally:
        await siem.stop()
    took = time.monotonic() - started
    st = router.stats()["siem"]
    assert st["dropped"] == {}, st
    assert seqs(siem.received) == list(range(2000))
    assert siem.statuses == [503] * 4 + [429] * 2 + [200] * 4
    assert took < DEADLINE
    # Retry-After was honoured: the two 429s are at least a second apart from the next try.
    tries = siem.times
    assert tries[5] - tries[4] >= 0.95 and tries[6] - tries[5] >= 0.95


def test_no_backoff_sleep_outlasts_the_time_left() -> None:
    cfg = sink_cfg(type="console", request={"retry_max_duration_secs": 30.0})
    runner = SinkRunner("x", cfg, build_sink("x", cfg), rng=random.Random(5))
    for attempt in range(12):
        for time_left in (0.0, 0.5, 4.0, 20.0):
            assert runner.backoff(attempt, None, time_left) <= time_left * 0.25
    assert runner.backoff(3, retry_after=1.0) == 1.0  # as given, not a floor under jitter
    assert runner.backoff(3, retry_after=1.0, time_left=2.0) == 0.5

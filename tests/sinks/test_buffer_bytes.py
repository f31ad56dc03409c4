"""Sink buffers are bounded by bytes as well as events: past buffer.max_size, records
are dropped and counted, whatever when_full says."""

from __future__ import annotations

import random

import anyio
import pytest
from sinkhelp import FAST_REQUEST, route_all, seqs, sink_cfg

from tracehound.agent.router import Router
from tracehound.sinks._common import BaseSink
from tracehound.sinks.runner import SinkRunner


class StuckSink(BaseSink):
    """Holds every send until released."""

    def __init__(self) -> None:
        super().__init__("stuck")
        self.release = anyio.Event()
        self.records: list[dict] = []

    async def send(self, records: list[dict]) -> None:
        await self.release.wait()
        self.records += records


@pytest.mark.parametrize("when_full", ["block", "drop_newest"])
async def test_buffer_max_size_drops_and_counts(when_full: str) -> None:
    sink = StuckSink()
    cfg = sink_cfg(
        type="console",
        inputs=["events"],
        buffer={"max_events": 10_000, "max_size": 20_000, "when_full": when_full},
        batch={"max_events": 10, "timeout_secs": 0.01},
        request=FAST_REQUEST,
    )
    router = Router([SinkRunner("stuck", cfg, sink, rng=random.Random(1))])
    await router.start()
    with anyio.fail_after(5):  # never waits: the byte bound drops, even with "block"
        await route_all(router, 500, chunk=50)
    st = router.stats()["stuck"]
    held = st["buffered"]
    assert 0 < held < 500
    assert st["dropped"] == {"buffer_max_size": 500 - held}
    sink.release.set()
    await router.stop(5)
    assert seqs(sink.records) == list(range(held))  # the oldest kept, in order


def test_buffer_max_size_is_validated() -> None:
    import msgspec

    from tracehound.sinks import SinkConfig

    with pytest.raises(msgspec.ValidationError, match="max_size"):
        msgspec.convert({"type": "console", "buffer": {"max_size": 0}}, SinkConfig)

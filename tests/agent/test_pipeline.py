"""A fault in the stage chain or the router never reaches the tracer or the application."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading

import pytest

from tracehound.agent.pipeline import Pipeline
from tracehound.agent.tracer.handoff import HandOff
from tracehound.agent.tracer.tracer import Tracer
from tracehound.event import Alert, Event


class ExplodingChain:
    """A stage chain with a bug: every batch raises."""

    def process(self, batch: list[Event]) -> tuple[list[Event], list[Alert]]:
        raise RuntimeError("bug in a stage")


class CollectingRouter:
    def __init__(self, fail: bool = False) -> None:
        self.events: list[Event] = []
        self.fail = fail

    async def route(self, events: list[Event], alerts: list[Alert]) -> None:
        if self.fail:
            raise OSError("sink exploded")
        self.events += events


def _start_tracer(argv: list[str], handoff: HandOff) -> tuple[Tracer, threading.Thread]:
    tracer = Tracer(
        shutil.which(argv[0]) or argv[0],
        argv,
        dict(os.environ),
        profile="balanced",
        syscalls=[],
        capture_results=[],
        argv_max=16,
        arg_max_bytes=4096,
        handoff=handoff,
    )
    thread = threading.Thread(target=tracer.run, daemon=True)
    thread.start()
    return tracer, thread


@pytest.mark.parametrize("router_fails", [False, True])
async def test_faulty_pipeline_leaves_the_application_running(
    caplog: pytest.LogCaptureFixture, tmp_path, router_fails: bool
) -> None:
    out = tmp_path / "done"
    handoff = HandOff(100_000, block=False)
    tracer, thread = _start_tracer(["sh", "-c", f"cat /etc/hostname > {out}; exit 3"], handoff)
    router = CollectingRouter(fail=router_fails)
    pipeline = Pipeline(handoff, ExplodingChain(), router)
    with caplog.at_level(logging.ERROR, logger="tracehound"):
        await asyncio.wait_for(pipeline.run(), 30)
    thread.join(10)
    assert tracer.exit_status == 3  # the application ran to its end
    assert out.read_text().strip()
    assert pipeline.counters["chain_errors"] == pipeline.counters["batches"] > 0
    assert "bug in a stage" in caplog.text
    if router_fails:
        assert pipeline.counters["route_errors"] > 0 and "sink exploded" in caplog.text
    else:  # the chain failed: the events still went on, unfiltered
        opened = {e.fields.get("fd.name") for e in router.events if e.type == "openat"}
        assert str(out) in opened


async def test_a_full_handoff_drops_and_counts_without_stalling(tmp_path) -> None:
    """No pipeline at all: the hand-off fills, the tracer drops and counts, the app finishes."""
    handoff = HandOff(10, block=False)
    script = "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do cat /etc/hostname; done > /dev/null"
    tracer, thread = _start_tracer(["sh", "-c", script], handoff)
    await asyncio.to_thread(thread.join, 30)
    assert tracer.exit_status == 0
    assert handoff.dropped > 0
    delivered = sum(len(batch) for batch in handoff.drain())
    assert delivered > 0  # what fitted is still there, in order
    assert tracer.counters()["events"] == delivered + handoff.dropped

"""cloudwatch_logs sink against a real moto server, through aiobotocore over HTTP."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiobotocore.session import get_session
from aiohttp import web
from sinkhelp import (
    FAST_REQUEST,
    FaultProxy,
    Moto,
    free_port,
    get_events,
    make_event,
    route_all,
    seqs,
    sink_cfg,
)

from tracehound.agent.router import Router
from tracehound.record import Record, event_record
from tracehound.sinks import check_sinks_health
from tracehound.sinks.cloudwatch import (
    EVENT_OVERHEAD,
    MAX_BATCH_BYTES,
    MAX_EVENTS,
    TRUNCATED_MARKER,
    CloudWatchLogsSink,
)

HOUR_NS = 3600 * 1_000_000_000


def cw_cfg(endpoint: str, group: str, stream: str | None = "s1", **extra: Any) -> Any:
    raw: dict[str, Any] = {
        "type": "cloudwatch_logs",
        "group_name": group,
        "endpoint_url": endpoint,
        "inputs": ["events", "alerts"],
        "batch": {"max_events": 20_000, "max_bytes": 20_000_000, "timeout_secs": 0.05},
        "request": FAST_REQUEST,
        **extra,
    }
    if stream:
        raw["stream_name"] = stream
    return sink_cfg(**raw)


@pytest.fixture
async def logs(aws_env: Moto) -> AsyncIterator[Any]:
    async with get_session().create_client(
        "logs", region_name="us-east-1", endpoint_url=aws_env.url
    ) as client:
        yield client


def group_name() -> str:
    return f"/tracehound/test-{uuid.uuid4().hex[:8]}"


async def deliver(cfg: Any, events: list[Any]) -> Router:
    router = Router.from_config({"cw": cfg})
    await router.start()
    for i in range(0, len(events), 500):
        await router.route(events[i : i + 500], [])
    await router.stop(60)
    return router


async def test_creates_group_and_stream_and_delivers(aws_env: Moto, logs: Any) -> None:
    group = group_name()
    router = Router.from_config({"cw": cw_cfg(aws_env.url, group)})
    await router.start()  # healthcheck passes although the group does not exist yet
    await route_all(router, 50)
    await router.stop(30)
    got = await get_events(logs, group)
    assert seqs([json.loads(e["message"]) for e in got]) == list(range(50))
    st = router.stats()["cw"]
    assert st["sent_records"] == 50 and st["dropped_total"] == 0
    assert st["last_error"] is None


async def test_existing_group_missing_stream(aws_env: Moto, logs: Any) -> None:
    group = group_name()
    await logs.create_log_group(logGroupName=group)
    router = await deliver(cw_cfg(aws_env.url, group, "other"), [make_event(i) for i in range(3)])
    assert len(await get_events(logs, group, "other")) == 3
    assert router.stats()["cw"]["dropped_total"] == 0


async def test_burst_over_10000_records(aws_env: Moto, logs: Any) -> None:
    group = group_name()
    n = 12_000
    # A loaded machine can make moto take seconds over a 1 MB call: a timed-out call is
    # sent again (at least once), which this test of the split is not about.
    patient = {**FAST_REQUEST, "timeout_secs": 120.0}
    records = [make_event(i) for i in range(n)]
    router = await deliver(cw_cfg(aws_env.url, group, request=patient), records)
    got = await get_events(logs, group)
    assert seqs([json.loads(e["message"]) for e in got]) == list(range(n))
    st = router.stats()["cw"]
    assert st["sent_records"] == n and st["dropped_total"] == 0
    assert st["sent_batches"] >= 5  # ~5 MB of records: at least five 1 MB calls


def test_split_respects_count_and_byte_limits() -> None:
    sink = CloudWatchLogsSink("cw", cw_cfg("http://unused", "g"))
    small = [Record({"n": i}, 1_795_342_805_000_000_000) for i in range(25_000)]
    chunks = sink.split(small)
    assert [len(c) for c in chunks] == [MAX_EVENTS, MAX_EVENTS, 5_000]
    big = [event_record(make_event(i, blob="x" * 3000)) for i in range(1000)]
    for chunk in sink.split(big):
        size = sum(len(e["message"].encode()) + EVENT_OVERHEAD for e in chunk)
        assert size <= MAX_BATCH_BYTES


async def test_record_larger_than_1mb_is_truncated_with_marker(aws_env: Moto, logs: Any) -> None:
    group = group_name()
    huge = make_event(1, blob="é" * 700_000)  # 1.4 MB of UTF-8: cut mid-character is avoided
    router = await deliver(cw_cfg(aws_env.url, group), [make_event(0), huge, make_event(2)])
    got = await get_events(logs, group)
    assert len(got) == 3
    [msg] = [e["message"] for e in got if '"test.seq":1' in e["message"]]
    assert msg.endswith(TRUNCATED_MARKER.decode())
    assert len(msg.encode()) + EVENT_OVERHEAD <= MAX_BATCH_BYTES
    assert '"test.seq":1' in msg
    st = router.stats()["cw"]
    assert st["truncated"] == 1 and st["sent_records"] == 3 and st["dropped_total"] == 0


async def test_records_spanning_more_than_24h_are_split(aws_env: Moto, logs: Any) -> None:
    group = group_name()
    now = time.time_ns()
    # Out of order on purpose: moto, like AWS, refuses a call whose events are not sorted.
    times = [now - HOUR_NS, now - 30 * HOUR_NS, now, now - 26 * HOUR_NS]
    events = [make_event(i, ts=t) for i, t in enumerate(times)]
    sink = CloudWatchLogsSink("cw", cw_cfg(aws_env.url, group))
    chunks = sink.split([event_record(e) for e in events])
    for chunk in chunks:
        assert chunk[-1]["timestamp"] - chunk[0]["timestamp"] < 24 * 3600 * 1000
    assert len(chunks) == 2
    router = await deliver(cw_cfg(aws_env.url, group), events)
    got = await get_events(logs, group)
    assert seqs([json.loads(e["message"]) for e in got]) == [1, 3, 0, 2]
    assert router.stats()["cw"]["sent_batches"] == 2


async def test_rejected_events_are_counted(aws_env: Moto, logs: Any) -> None:
    group = group_name()
    old = make_event(0, ts=time.time_ns() - 15 * 24 * HOUR_NS)  # older than 14 days
    router = await deliver(cw_cfg(aws_env.url, group), [old, make_event(1)])
    assert len(await get_events(logs, group)) == 1
    st = router.stats()["cw"]
    assert st["dropped"] == {"rejected": 1} and st["sent_records"] == 1
    assert st["rejected_events"] == 1


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "ThrottlingException"), (503, "ServiceUnavailableException"), (500, "InternalFailure")],
)
async def test_throttling_and_5xx_are_retried(
    aws_env: Moto, logs: Any, status: int, code: str
) -> None:
    proxy = FaultProxy(aws_env.url, fail_status=status, fail_code=code)
    await proxy.start()
    try:
        group = group_name()
        await logs.create_log_group(logGroupName=group)
        await logs.create_log_stream(logGroupName=group, logStreamName="s1")
        proxy.fail_next = 3
        router = await deliver(cw_cfg(proxy.url, group), [make_event(i) for i in range(20)])
    finally:
        await proxy.stop()
    assert len(await get_events(logs, group)) == 20
    st = router.stats()["cw"]
    assert st["retries"] >= 2 and st["dropped_total"] == 0
    assert code in st["last_error"]


async def test_invalid_parameter_is_final(aws_env: Moto) -> None:
    proxy = FaultProxy(aws_env.url, fail_next=1, fail_code="InvalidParameterException")
    await proxy.start()
    try:
        cfg = cw_cfg(proxy.url, group_name(), healthcheck={"enabled": False})
        router = await deliver(cfg, [make_event(1)])
    finally:
        await proxy.stop()
    st = router.stats()["cw"]
    assert st["dropped"] == {"rejected": 1} and st["retries"] == 0


async def test_endpoint_down_then_up(aws_env: Moto, logs: Any) -> None:
    port = free_port()
    proxy = FaultProxy(aws_env.url, port=port)
    group = group_name()
    router = Router.from_config({"cw": cw_cfg(proxy.url, group)})
    await router.start()
    await route_all(router, 10)
    import asyncio

    await asyncio.sleep(0.3)
    await proxy.start()
    try:
        await router.stop(30)
    finally:
        await proxy.stop()
    assert len(await get_events(logs, group)) == 10
    assert router.stats()["cw"]["dropped_total"] == 0


async def test_stream_defaults_to_ecs_task_id(
    aws_env: Moto, logs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def task(_: web.Request) -> web.Response:
        return web.json_response({"TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/c/0a1b2c3d"})

    app = web.Application()
    app.router.add_get("/v4/abc/task", task)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", f"http://127.0.0.1:{port}/v4/abc")
    try:
        group = group_name()
        await deliver(cw_cfg(aws_env.url, group, stream=None), [make_event(1)])
    finally:
        await runner.cleanup()
    assert len(await get_events(logs, group, "0a1b2c3d")) == 1


async def test_ecs_metadata_is_fetched_once_for_the_chain_and_the_sinks(
    aws_env: Moto, logs: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """As the agent starts: the chain (enrichment) and the sinks open side by side; the
    CloudWatch sink names its stream after the task without asking the endpoint again."""
    import anyio
    import msgspec

    from tracehound.filters.chain import build_chain
    from tracehound.filters.config import FiltersConfig
    from tracehound.task import TaskInfo

    hits: list[str] = []
    arn = "arn:aws:ecs:us-east-1:123456789012:task/c/9f8e7d"

    async def container(request: web.Request) -> web.Response:
        hits.append(request.path)
        await anyio.sleep(0.3)  # slower than the sink's open: it must wait, not fetch
        return web.json_response({"DockerId": "d1", "Name": "app"})

    async def task_doc(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response({"TaskARN": arn})

    app = web.Application()
    app.router.add_get("/v4/abc", container)
    app.router.add_get("/v4/abc/task", task_doc)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", f"http://127.0.0.1:{port}/v4/abc")
    try:
        task = TaskInfo()
        cfg = msgspec.convert({"rules": {"enabled": False}}, FiltersConfig)
        chain = build_chain(cfg, tmp_path, task=task)
        group = group_name()
        router = Router.from_config({"cw": cw_cfg(aws_env.url, group, stream=None)}, task)
        async with anyio.create_task_group() as tg:
            await router.start(tg=tg, alongside=lambda: chain.start(tg))
            await router.route([make_event(1)], [])
            await router.stop(30)
            await chain.stop()
            tg.cancel_scope.cancel()
    finally:
        await runner.cleanup()
    assert sorted(hits) == ["/v4/abc", "/v4/abc/task"]  # once, by the enrichment stage
    assert len(await get_events(logs, group, "9f8e7d")) == 1


async def test_stream_defaults_to_hostname(
    aws_env: Moto, logs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    monkeypatch.delenv("ECS_CONTAINER_METADATA_URI_V4", raising=False)
    group = group_name()
    await deliver(cw_cfg(aws_env.url, group, stream=None), [make_event(1)])
    assert len(await get_events(logs, group, socket.gethostname())) == 1


async def test_healthcheck(aws_env: Moto) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    ok = cw_cfg(aws_env.url, group_name())
    bad = cw_cfg(down, group_name(), request={**FAST_REQUEST, "timeout_secs": 2})
    result = dict(await check_sinks_health({"ok": ok, "bad": bad}))
    assert result["ok"] is None and result["bad"] is not None

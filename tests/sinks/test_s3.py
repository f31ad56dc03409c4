"""s3 sink against a real moto server: gzip'd JSON-lines objects per time window, keys from
the template, outages (down, 503 SlowDown) and a PutObject that landed although its
answer was lost (retried to the same key: no duplicate records)."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from aiobotocore.session import get_session
from aiohttp import web
from ocsf_check import validate
from sinkhelp import (
    FAST_REQUEST,
    FaultProxy,
    Moto,
    free_port,
    make_alert,
    make_event,
    seqs,
    sink_cfg,
)

from tracehound.agent.config import ConfigError, parse_config
from tracehound.agent.router import Router

MIN_NS = 60 * 1_000_000_000


@pytest.fixture
async def s3(aws_env: Moto) -> AsyncIterator[Any]:
    async with get_session().create_client(
        "s3", region_name="us-east-1", endpoint_url=aws_env.url
    ) as client:
        yield client


async def bucket(s3: Any) -> str:
    name = f"th-{uuid.uuid4().hex[:8]}"
    await s3.create_bucket(Bucket=name)
    return name


async def objects(s3: Any, bucket: str) -> dict[str, list[dict[str, Any]]]:
    out = {}
    resp = await s3.list_objects_v2(Bucket=bucket)
    for obj in resp.get("Contents", []):
        body = await (await s3.get_object(Bucket=bucket, Key=obj["Key"]))["Body"].read()
        out[obj["Key"]] = [json.loads(x) for x in gzip.decompress(body).splitlines()]
    return out


def s3_cfg(endpoint: str, bucket: str, **extra: Any) -> Any:
    raw: dict[str, Any] = {
        "type": "s3",
        "bucket": bucket,
        "endpoint_url": endpoint,
        "inputs": ["events", "alerts"],
        "key_prefix": "th/{task_id}/year=%Y/month=%m/day=%d/",
        "window_secs": 60,
        "batch": {"timeout_secs": 0.05},
        "request": FAST_REQUEST,
    }
    return sink_cfg(**{**raw, **extra})


async def test_objects_per_window_with_templated_keys(aws_env: Moto, s3: Any) -> None:
    b = await bucket(s3)
    now = (time.time_ns() // MIN_NS) * MIN_NS  # the start of this minute
    # Three windows, out of order in one batch: 0..9 now, 10..14 two minutes ago, 15..19
    # a day ago (a different date part in the key).
    events = [make_event(i, ts=now + i) for i in range(10)]
    events += [make_event(i, ts=now - 2 * MIN_NS + i) for i in range(10, 15)]
    events += [make_event(i, ts=now - 1440 * MIN_NS + i) for i in range(15, 20)]
    router = Router.from_config({"lake": s3_cfg(aws_env.url, b)})
    await router.start()
    await router.route(events, [])
    await router.stop(30)
    got = await objects(s3, b)
    assert len(got) == 3
    host = router.runners[0].sink.task_id  # type: ignore[attr-defined]
    by_window = {}
    for key, recs in got.items():
        prefix, name = key.rsplit("/", 1)
        stamp = name.split("-", 1)[0]
        start = time.strptime(stamp, "%Y%m%dT%H%M%SZ")
        assert prefix == time.strftime(f"th/{host}/year=%Y/month=%m/day=%d", start)
        assert name.endswith(".json.gz")
        by_window[stamp] = seqs(recs)
    t = [time.gmtime((now + d) // 1_000_000_000) for d in (0, -2 * MIN_NS, -1440 * MIN_NS)]
    assert by_window == {
        time.strftime("%Y%m%dT%H%M%SZ", t[0]): list(range(10)),
        time.strftime("%Y%m%dT%H%M%SZ", t[1]): list(range(10, 15)),
        time.strftime("%Y%m%dT%H%M%SZ", t[2]): list(range(15, 20)),
    }
    st = router.stats()["lake"]
    assert st["sent_records"] == 20 and st["objects"] == 3 and st["dropped_total"] == 0


async def test_down_then_slowdown_then_back(aws_env: Moto, s3: Any) -> None:
    b = await bucket(s3)
    port = free_port()
    proxy = FaultProxy(aws_env.url, port=port, fail_status=503, fail_code="SlowDown")
    router = Router.from_config({"lake": s3_cfg(proxy.url, b)})
    await router.start()  # the endpoint is down: healthcheck and first sends fail
    await router.route([make_event(i) for i in range(50)], [])
    await anyio.sleep(1.0)
    assert router.stats()["lake"]["sent_records"] == 0
    await proxy.start()
    proxy.fail_next = 3  # back, but throttling for a while
    try:
        await router.route([make_event(i) for i in range(50, 80)], [])
        await router.stop(30)
    finally:
        await proxy.stop()
    got = await objects(s3, b)
    assert sorted(s for recs in got.values() for s in seqs(recs)) == list(range(80))
    st = router.stats()["lake"]
    assert st["sent_records"] == 80 and st["dropped_total"] == 0 and st["retries"] >= 3


class StoreThenFail:
    """Forwards to moto, then answers 500 for the next N PutObject calls: the object is
    stored but the agent does not know it (a connection lost after the write)."""

    def __init__(self, target: str) -> None:
        self.target, self.fail_next, self.port = target, 0, 0

    async def start(self) -> None:
        import aiohttp

        self._client = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, auto_decompress=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        await self._runner.cleanup()
        await self._client.close()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with self._client.request(
            request.method, self.target + request.path_qs, data=body, headers=headers
        ) as resp:
            data, status = await resp.read(), resp.status
        if request.method == "PUT" and self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=500, text="<Error><Code>InternalError</Code></Error>")
        return web.Response(status=status, body=data)


async def test_retry_after_a_lost_answer_writes_the_same_key(aws_env: Moto, s3: Any) -> None:
    b = await bucket(s3)
    proxy = StoreThenFail(aws_env.url)
    await proxy.start()
    proxy.fail_next = 2
    try:
        cfg = s3_cfg(f"http://127.0.0.1:{proxy.port}", b, healthcheck={"enabled": False})
        router = Router.from_config({"lake": cfg})
        await router.start()
        await router.route([make_event(i) for i in range(25)], [])
        await router.stop(30)
    finally:
        await proxy.stop()
    got = await objects(s3, b)
    assert len(got) == 1 and seqs(next(iter(got.values()))) == list(range(25))
    st = router.stats()["lake"]
    assert st["retries"] == 2 and st["sent_records"] == 25


async def test_ocsf_objects_validate(aws_env: Moto, s3: Any) -> None:
    b = await bucket(s3)
    router = Router.from_config({"lake": s3_cfg(aws_env.url, b, encoding="ocsf")})
    await router.start()
    await router.route([make_event(i) for i in range(5)], [make_alert(3)])
    await router.stop(30)
    recs = [r for rs in (await objects(s3, b)).values() for r in rs]
    assert len(recs) == 6 and {r["class_uid"] for r in recs} == {1001, 2004}
    for r in recs:
        assert not validate(r), validate(r)


async def test_missing_bucket_is_rejected_and_counted(aws_env: Moto) -> None:
    cfg = s3_cfg(aws_env.url, "no-such-bucket-th", healthcheck={"enabled": False})
    router = Router.from_config({"lake": cfg})
    await router.start()
    await router.route([make_event(1), make_event(2)], [])
    await router.stop(30)
    st = router.stats()["lake"]
    assert st["dropped"] == {"rejected": 2} and "NoSuchBucket" in st["last_error"]


def test_config_errors_name_key_line_and_value() -> None:
    text = """
[sinks.lake]
type = "s3"
bucket = "b"
key_prefix = "x/{task}/%Y/"
window_secs = 0
encoding = "xml"
"""
    with pytest.raises(ConfigError) as info:
        parse_config(text, "t.toml")
    got = {(i.path, i.line) for i in info.value.issues}
    assert ("sinks.lake.encoding", 7) in got
    text = text.replace('"xml"', '"ocsf"')
    with pytest.raises(ConfigError) as info:
        parse_config(text, "t.toml")
    issues = {i.path: (i.line, i.message) for i in info.value.issues}
    assert issues["sinks.lake.key_prefix"][0] == 5
    assert "{task}" in issues["sinks.lake.key_prefix"][1]
    assert "x/{task}/%Y/" in issues["sinks.lake.key_prefix"][1]
    assert issues["sinks.lake.window_secs"] == (6, "must be within 1..86400, got 0")
    default = sink_cfg(type="s3", bucket="b")  # Vector's batching for objects, not 1 s
    assert (default.batch.timeout_secs, default.batch.max_bytes) == (300.0, 10_000_000)

"""firehose sink against a real moto server: PutRecordBatch into a delivery stream whose
ExtendedS3 destination is moto's S3 (each call becomes one object, which the tests read).

moto never fails part of a batch, so partial failures come from PartialProxy, an aiohttp
stand-in in front of moto: it forwards the records it lets through to moto and answers
for the others with a per-record ErrorCode, as Firehose does (FailedPutCount > 0).
Outages are the proxy not listening; throttling is a whole-call ThrottlingException."""

from __future__ import annotations

import base64
import json
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

from tracehound.agent.router import Router
from tracehound.record import event_record
from tracehound.sinks.firehose import MAX_RECORD_BYTES, FirehoseSink


@pytest.fixture
async def aws(aws_env: Moto) -> AsyncIterator[tuple[Any, Any]]:
    session = get_session()
    async with (
        session.create_client("s3", region_name="us-east-1", endpoint_url=aws_env.url) as s3,
        session.create_client("firehose", region_name="us-east-1", endpoint_url=aws_env.url) as fh,
    ):
        yield s3, fh


async def make_stream(aws: tuple[Any, Any]) -> tuple[str, str]:
    s3, fh = aws
    name = f"th-{uuid.uuid4().hex[:8]}"
    await s3.create_bucket(Bucket=name)
    await fh.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": f"arn:aws:s3:::{name}",
            "Prefix": "raw/",
        },
    )
    return name, name


async def delivered(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """Every record in the destination bucket, object by object (in key order: time)."""
    out: list[dict[str, Any]] = []
    resp = await s3.list_objects_v2(Bucket=bucket)
    for obj in sorted(resp.get("Contents", []), key=lambda o: o["LastModified"]):
        body = await (await s3.get_object(Bucket=bucket, Key=obj["Key"]))["Body"].read()
        assert body.endswith(b"\n")
        out += [json.loads(line) for line in body.splitlines()]
    return out


def fh_cfg(endpoint: str, stream: str, **extra: Any) -> Any:
    raw: dict[str, Any] = {
        "type": "firehose",
        "stream_name": stream,
        "endpoint_url": endpoint,
        "inputs": ["events", "alerts"],
        "batch": {"max_events": 5000, "max_bytes": 50_000_000, "timeout_secs": 0.05},
        "request": FAST_REQUEST,
    }
    return sink_cfg(**{**raw, **extra})


async def run(cfg: Any, n: int, chunk: int = 500) -> Router:
    router = Router.from_config({"fh": cfg})
    await router.start()
    for i in range(0, n, chunk):
        await router.route([make_event(j) for j in range(i, min(n, i + chunk))], [])
    await router.stop(60)
    return router


class PartialProxy:
    """Forwards Firehose calls to moto. For the next `fail_calls` PutRecordBatch calls,
    records whose position in the call is odd are not forwarded and answered with
    ErrorCode `code` instead (FailedPutCount counts them)."""

    def __init__(self, target: str, port: int = 0) -> None:
        self.target = target
        self.port = port
        self.fail_calls = 0
        self.fail_always_seq: int | None = None  # this test.seq fails on every call
        self.code = "ServiceUnavailableException"
        self.calls = 0
        self.records_seen = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        import aiohttp

        self._client = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, auto_decompress=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            await self._client.close()
            self._runner = None

    def _fails(self, pos: int, data: bytes) -> bool:
        if self.fail_always_seq is not None:
            return bool(json.loads(data)["output_fields"]["test.seq"] == self.fail_always_seq)
        return self.fail_calls > 0 and pos % 2 == 1

    async def _forward(self, request: web.Request, body: bytes) -> tuple[int, bytes, Any]:
        skip = ("host", "content-length")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in skip}
        async with self._client.request(
            request.method, self.target + request.path_qs, data=body, headers=headers
        ) as resp:
            return resp.status, await resp.read(), resp.headers

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        target = request.headers.get("X-Amz-Target", "")
        if not target.endswith("PutRecordBatch"):
            status, data, _ = await self._forward(request, body)
            return web.Response(status=status, body=data, content_type="application/x-amz-json-1.1")
        self.calls += 1
        doc = json.loads(body)
        records = doc["Records"]
        self.records_seen += len(records)
        fail = [self._fails(i, base64.b64decode(r["Data"])) for i, r in enumerate(records)]
        if self.fail_calls > 0:
            self.fail_calls -= 1
        keep = [r for r, f in zip(records, fail, strict=True) if not f]
        answers: list[dict[str, Any]] = []
        if keep:
            status, data, _ = await self._forward(
                request, json.dumps({**doc, "Records": keep}).encode()
            )
            assert status == 200, data
            answers = json.loads(data)["RequestResponses"]
        it = iter(answers)
        out = [
            {"ErrorCode": self.code, "ErrorMessage": "induced by the test"} if f else next(it)
            for f in fail
        ]
        return web.json_response(
            {"FailedPutCount": sum(fail), "Encrypted": False, "RequestResponses": out},
            content_type="application/x-amz-json-1.1",
        )


def test_split_respects_firehose_limits() -> None:
    sink = FirehoseSink("fh", fh_cfg("http://unused", "s"))
    small = [event_record(make_event(i)) for i in range(1200)]
    assert [len(c) for c in sink.split(small)] == [500, 500, 200]
    big = [event_record(make_event(i, blob="x" * 300_000)) for i in range(30)]
    chunks = sink.split(big)
    assert all(sum(len(r["Data"]) for r in c) <= 4 * 1024 * 1024 for c in chunks)
    assert sum(len(c) for c in chunks) == 30 and len(chunks) == 3  # 13 + 13 + 4
    huge = [event_record(make_event(0, blob="y" * MAX_RECORD_BYTES)), small[1]]
    assert [len(c) for c in sink.split(huge)] == [1]
    assert sink.counters["too_large_records"] == 1


async def test_delivers_every_record_in_calls_of_at_most_500(
    aws_env: Moto, aws: tuple[Any, Any]
) -> None:
    stream, bucket = await make_stream(aws)
    router = await run(fh_cfg(aws_env.url, stream), 1200)
    got = await delivered(aws[0], bucket)
    assert sorted(seqs(got)) == list(range(1200))
    st = router.stats()["fh"]
    assert st["sent_records"] == 1200 and st["dropped_total"] == 0 and st["sent_batches"] == 3


async def test_partially_failed_batch_resends_only_the_failed_records(
    aws_env: Moto, aws: tuple[Any, Any]
) -> None:
    stream, bucket = await make_stream(aws)
    proxy = PartialProxy(aws_env.url)
    await proxy.start()
    proxy.fail_calls = 2  # first call: 250 of 500 fail; the retry (250): 125 fail
    try:
        router = await run(fh_cfg(proxy.url, stream), 500)
    finally:
        await proxy.stop()
    got = await delivered(aws[0], bucket)
    assert sorted(seqs(got)) == list(range(500))  # each exactly once: no duplicates
    assert proxy.records_seen == 500 + 250 + 125  # only failed records were sent again
    st = router.stats()["fh"]
    assert st["failed_ServiceUnavailableException"] == 375 and st["partial_failures"] == 2
    assert st["sent_records"] == 500 and st["dropped_total"] == 0


async def test_a_record_failing_for_good_is_counted_the_rest_delivered(
    aws_env: Moto, aws: tuple[Any, Any]
) -> None:
    stream, bucket = await make_stream(aws)
    proxy = PartialProxy(aws_env.url)
    await proxy.start()
    proxy.fail_always_seq = 7
    proxy.code = "InternalFailure"
    try:
        cfg = fh_cfg(proxy.url, stream, request={**FAST_REQUEST, "retry_attempts": 3})
        router = await run(cfg, 20)
    finally:
        await proxy.stop()
    got = await delivered(aws[0], bucket)
    assert sorted(seqs(got)) == [i for i in range(20) if i != 7]
    st = router.stats()["fh"]
    assert st["sent_records"] == 19 and st["dropped"] == {"retries_exhausted": 1}
    assert st["failed_InternalFailure"] == 4  # the first try and 3 retries


@pytest.mark.parametrize(
    ("status", "code"), [(400, "ThrottlingException"), (503, "ServiceUnavailableException")]
)
async def test_throttled_calls_are_retried(
    aws_env: Moto, aws: tuple[Any, Any], status: int, code: str
) -> None:
    stream, bucket = await make_stream(aws)
    proxy = FaultProxy(aws_env.url, fail_status=status, fail_code=code)
    await proxy.start()
    proxy.fail_next = 4
    try:
        cfg = fh_cfg(proxy.url, stream, healthcheck={"enabled": False})
        router = await run(cfg, 300)
    finally:
        await proxy.stop()
    assert sorted(seqs(await delivered(aws[0], bucket))) == list(range(300))
    st = router.stats()["fh"]
    assert st["retries"] >= 4 and st["dropped_total"] == 0 and code in st["last_error"]


async def test_service_down_for_a_while_then_back(aws_env: Moto, aws: tuple[Any, Any]) -> None:
    stream, bucket = await make_stream(aws)
    port = free_port()
    proxy = PartialProxy(aws_env.url, port=port)  # not listening yet: connection refused
    router = Router.from_config({"fh": fh_cfg(proxy.url, stream)})
    await router.start()
    await router.route([make_event(i) for i in range(100)], [])
    await anyio.sleep(1.5)
    assert router.stats()["fh"]["sent_records"] == 0 and router.stats()["fh"]["retries"] > 0
    await proxy.start()
    try:
        await router.route([make_event(i) for i in range(100, 150)], [])
        await router.stop(30)
    finally:
        await proxy.stop()
    assert sorted(seqs(await delivered(aws[0], bucket))) == list(range(150))
    st = router.stats()["fh"]
    assert st["sent_records"] == 150 and st["dropped_total"] == 0


async def test_ocsf_records_through_firehose_validate(aws_env: Moto, aws: tuple[Any, Any]) -> None:
    stream, bucket = await make_stream(aws)
    router = Router.from_config({"fh": fh_cfg(aws_env.url, stream, encoding="ocsf")})
    await router.start()
    await router.route([make_event(i) for i in range(10)], [make_alert(1)])
    await router.stop(30)
    got = await delivered(aws[0], bucket)
    assert len(got) == 11
    assert {r["class_uid"] for r in got} == {1001, 2004}
    for r in got:
        assert not validate(r), validate(r)


async def test_missing_stream_fails_the_healthcheck(aws_env: Moto) -> None:
    from tracehound.sinks import check_sinks_health

    [(name, err)] = await check_sinks_health({"fh": fh_cfg(aws_env.url, "no-such-stream")})
    assert name == "fh" and err and "ResourceNotFoundException" in err

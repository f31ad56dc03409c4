"""Helpers for the sink tests: event/alert factories, config decoding, the SIEM and moto
handles. (conftest.py puts this directory on sys.path; tests import from here.)"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import socket
import ssl
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from aiobotocore.session import get_session
from aiohttp import web

from tracehound.agent.router import Router
from tracehound.event import Alert, Event, ProcInfo
from tracehound.sinks import SinkConfig

HERE = Path(__file__).parent

# Fast retries for tests; plenty of attempts so short outages never exhaust them.
FAST_REQUEST = {
    "retry_attempts": 200,
    "retry_initial_backoff_secs": 0.01,
    "retry_max_duration_secs": 0.1,
    "timeout_secs": 5.0,
}

PROC = ProcInfo(
    pid=42, ppid=1, name="cat", exepath="/usr/bin/cat", argv=("cat", "/etc/shadow"),
    cwd="/", uid=0, gid=0,
)  # fmt: skip


def make_event(seq: int, ts: int | None = None, **fields: Any) -> Event:
    return Event(
        ts=ts if ts is not None else time.time_ns(),
        type="openat",
        tid=42,
        proc=PROC,
        fields={"fd.name": f"/tmp/f{seq}", "test.seq": seq, **fields},
    )


def make_alert(seq: int, priority: str = "Warning") -> Alert:
    return Alert(
        event=make_event(seq),
        rule="Read sensitive file",
        priority=priority,
        output=f"sensitive file opened (seq={seq})",
        uuid=f"uuid-{seq}",
    )


def sink_cfg(**raw: Any) -> Any:
    """A sink config from TOML-like data, through the same decoder as the config file."""
    return msgspec.convert(raw, SinkConfig)


def seqs(records: list[dict[str, Any]]) -> list[int]:
    return [r["output_fields"]["test.seq"] for r in records]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def route_all(router: Router, n: int, chunk: int = 100, start: int = 0) -> None:
    for i in range(start, start + n, chunk):
        await router.route([make_event(j) for j in range(i, min(i + chunk, start + n))], [])


# ----- the SIEM -------------------------------------------------------------------------


@dataclass
class Siem:
    """An HTTP collector. Fault knobs are read per request, so a test can change them live."""

    port: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)  # headers + raw body
    fail_next: int = 0  # answer fail_status to the next N requests
    fail_status: int = 500
    retry_after: str | None = None
    delay: float = 0.0  # seconds before answering every request
    slow_next: int = 0  # the next N requests wait slow_secs before answering
    slow_secs: float = 0.0
    times: list[float] = field(default_factory=list)  # arrival time of every request
    drop_next: int = 0  # close the connection without an answer, records NOT stored
    store_then_drop_next: int = 0  # store the records, then drop the connection (duplicates)
    statuses: list[int] = field(default_factory=list)
    # Answers for the next requests, in order, before any other knob: (status, Retry-After).
    script: list[tuple[int, str | None]] = field(default_factory=list)
    ssl_context: ssl.SSLContext | None = None  # serve HTTPS
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}/ingest"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/ingest", self._handle)
        app.router.add_route("*", "/services/collector/event", self._handle)
        # Raw bodies, as sent: the test decompresses and checks signatures itself.
        self._runner = web.AppRunner(app, handle_signals=False, auto_decompress=False)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner,
            "127.0.0.1",
            self.port,
            reuse_address=True,
            ssl_context=self.ssl_context,
        )
        await site.start()
        if not self.port:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _parse(self, request: web.Request, body: bytes) -> list[dict[str, Any]]:
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if request.headers.get("Content-Type") == "application/x-ndjson" or request.path.startswith(
            "/services/"
        ):
            return [json.loads(line) for line in body.splitlines() if line.strip()]
        data = json.loads(body)
        assert isinstance(data, list)
        return data

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "HEAD":
            return web.Response(status=200)
        self.times.append(time.monotonic())
        body = await request.read()
        if self.slow_next > 0:
            self.slow_next -= 1
            await asyncio.sleep(self.slow_secs)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.script:
            status, retry_after = self.script.pop(0)
            self.statuses.append(status)
            headers = {"Retry-After": retry_after} if retry_after else {}
            return web.Response(status=status, text="scripted failure", headers=headers)
        if self.drop_next > 0:
            self.drop_next -= 1
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)  # never reaches the client
        if self.fail_next > 0:
            self.fail_next -= 1
            self.statuses.append(self.fail_status)
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return web.Response(status=self.fail_status, text="induced failure", headers=headers)
        self.requests.append({"headers": dict(request.headers), "body": body})
        records = self._parse(request, body)
        self.received.extend(records)
        if self.store_then_drop_next > 0:
            self.store_then_drop_next -= 1
            assert request.transport is not None
            request.transport.close()
        self.statuses.append(200)
        return web.Response(status=200, text='{"text":"Success","code":0}')


# ----- moto -----------------------------------------------------------------------------


@dataclass
class Moto:
    url: str
    record_dir: Path

    def lambda_payloads(self, function: str) -> list[Any]:
        path = self.record_dir / f"{function}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def fail_lambda(self, function: str, times: int) -> None:
        (self.record_dir / f"fail_{function}").write_text(str(times))


AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@dataclass
class FaultProxy:
    """A reverse proxy in front of moto that can answer the next N requests itself, with an
    AWS-style JSON error (e.g. ThrottlingException) instead of forwarding them."""

    target: str
    fail_next: int = 0
    fail_status: int = 400
    fail_code: str = "ThrottlingException"
    port: int = 0
    forwarded: int = 0
    _runner: web.AppRunner | None = None

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
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            await self._client.close()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.fail_next > 0:
            self.fail_next -= 1
            err = {"__type": self.fail_code, "message": "induced by the test"}
            return web.json_response(
                err, status=self.fail_status, headers={"x-amzn-ErrorType": self.fail_code}
            )
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host",)}
        async with self._client.request(
            request.method, self.target + request.path_qs, data=body, headers=headers
        ) as resp:
            data = await resp.read()
            out = {
                k: v
                for k, v in resp.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "connection")
            }
            self.forwarded += 1
            return web.Response(status=resp.status, body=data, headers=out)


# ----- AWS helpers --------------------------------------------------------------------


async def get_events(logs: Any, group: str, stream: str = "s1") -> list[dict[str, Any]]:
    """Every event of the stream, following GetLogEvents' forward tokens."""
    out: list[dict[str, Any]] = []
    kw: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
    while True:
        resp = await logs.get_log_events(**kw)
        out += resp["events"]
        token = resp["nextForwardToken"]
        if not resp["events"] or token == kw.get("nextToken"):
            return out
        kw["nextToken"] = token


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return len(event)\n")
    return buf.getvalue()


async def create_function(moto: Moto) -> str:
    name = f"responder-{uuid.uuid4().hex[:8]}"
    session = get_session()
    async with (
        session.create_client("iam", region_name="us-east-1", endpoint_url=moto.url) as iam,
        session.create_client("lambda", region_name="us-east-1", endpoint_url=moto.url) as lam,
    ):
        role = await iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )
        await lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="handler.handler",
            Code={"ZipFile": _zip()},
        )
    return name

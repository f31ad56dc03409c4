"""webhook `encoding = "falco"` against a receiver that decodes requests the way
falcosidekick does: the first JSON value of the body into its FalcoPayload (uuid,
output, priority, rule, time, output_fields, source, tags, hostname), then its
Check(): a known priority, a rule, a non-zero time, at least one output field.
Anything else is answered 400."""

from __future__ import annotations

import asyncio
import datetime
import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from sinkhelp import FAST_REQUEST, free_port, make_alert, make_event, sink_cfg

from tracehound.agent.router import Router
from tracehound.sinks import check_sinks

_PRIORITIES = {
    "emergency", "alert", "critical", "error", "warning", "notice", "informational", "info",
    "debug",
}  # fmt: skip


def decode_like_falcosidekick(body: bytes) -> dict[str, Any] | None:
    """The payload falcosidekick would accept, or None where it answers 400."""
    try:
        # Go's json.Decoder.Decode reads one value and ignores what follows it.
        value, _ = json.JSONDecoder().raw_decode(body.decode())
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(value, dict):
        return None  # an array cannot decode into the FalcoPayload struct
    prio, rule, when, fields = (value.get(k) for k in ("priority", "rule", "time", "output_fields"))
    if not isinstance(prio, str) or prio.lower() not in _PRIORITIES:
        return None
    if not isinstance(rule, str) or not rule:
        return None
    if not isinstance(when, str):
        return None
    try:  # time.Time's JSON form is RFC 3339 (nanoseconds allowed)
        datetime.datetime.fromisoformat(when.replace("Z", "+00:00")[:26] + "+00:00")
    except ValueError:
        return None
    if not isinstance(fields, dict) or not fields:
        return None
    for key in ("output", "source", "hostname", "uuid"):
        if key in value and not isinstance(value[key], str):
            return None
    tags = value.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        return None
    return value


@dataclass
class Sidekick:
    delay: float = 0.0
    port: int = field(default_factory=free_port)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            body = await request.read()
            await asyncio.sleep(self.delay)
            payload = decode_like_falcosidekick(body)
            if payload is None:
                self.rejected += 1
                return web.Response(status=400, text="Please send a valid request body")
            self.accepted.append(payload)
            return web.Response(text="")
        finally:
            self.in_flight -= 1


def falco_sink(url: str, **extra: Any) -> Any:
    raw = {
        "type": "webhook",
        "url": url,
        "encoding": "falco",
        "inputs": ["alerts"],
        "batch": {"max_events": 100, "timeout_secs": 0.02},
        "request": FAST_REQUEST,
        **extra,
    }
    return sink_cfg(**raw)


async def send_alerts(cfg: Any, n: int) -> Router:
    router = Router.from_config({"sidekick": cfg})
    await router.start()
    for i in range(0, n, 50):
        await router.route([], [make_alert(j) for j in range(i, min(i + 50, n))])
    await router.stop(30)
    return router


async def test_falcosidekick_receives_every_alert_in_parallel() -> None:
    kick = Sidekick(delay=0.02)
    await kick.start()
    try:
        n = 300
        t0 = time.monotonic()
        router = await send_alerts(falco_sink(kick.url, max_parallel_requests=16), n)
        elapsed = time.monotonic() - t0
    finally:
        await kick.stop()
    st = router.stats()["sidekick"]
    assert kick.rejected == 0
    assert sorted(a["output_fields"]["test.seq"] for a in kick.accepted) == list(range(n))
    assert st["sent_records"] == n and st["dropped_total"] == 0
    # One request per alert, yet not one at a time (300 x 20 ms would take 6 s in
    # sequence); the receiver counts the overlap, so no clock is asserted.
    assert kick.max_in_flight > 4, kick.max_in_flight
    print(f"300 alerts, 20 ms each: {elapsed:.2f} s, {kick.max_in_flight} in flight")
    a = kick.accepted[0]
    assert a["rule"] == "Read sensitive file" and a["source"] == "syscall"
    assert a["output"].endswith(
        f": Warning sensitive file opened (seq={a['output_fields']['test.seq']})"
    )


async def test_json_and_ndjson_bodies_lose_alerts_at_falcosidekick() -> None:
    """Why the falco encoding exists: a JSON array is refused; ndjson keeps only line 1."""
    kick = Sidekick()
    await kick.start()
    try:
        base = {"batch": {"max_events": 10, "timeout_secs": 0.02}}
        cfg = falco_sink(kick.url, encoding="json", **base)
        await send_alerts(cfg, 10)
        assert kick.accepted == [] and kick.rejected >= 1
        cfg = falco_sink(kick.url, encoding="ndjson", **base)
        await send_alerts(cfg, 10)
        assert 1 <= len(kick.accepted) < 10
    finally:
        await kick.stop()


async def test_failed_requests_are_retried_without_duplicates() -> None:
    kick = Sidekick()
    failures = {"left": 5}
    original = kick._handle

    async def flaky(request: web.Request) -> web.Response:
        if failures["left"] > 0:
            failures["left"] -= 1
            await request.read()
            return web.Response(status=503)
        return await original(request)

    kick._handle = flaky  # type: ignore[method-assign]
    await kick.start()
    try:
        router = await send_alerts(falco_sink(kick.url), 40)
    finally:
        await kick.stop()
    seqs = [a["output_fields"]["test.seq"] for a in kick.accepted]
    assert sorted(seqs) == list(range(40))  # each exactly once
    st = router.stats()["sidekick"]
    assert st["sent_records"] == 40 and st["retries"] >= 1


def test_falco_encoding_refuses_plain_events() -> None:
    with pytest.raises(Exception, match=r"encoding = .*falco.*use inputs = \[.*alerts"):
        falco_sink("http://127.0.0.1:1/", inputs=["events", "alerts"])
    assert check_sinks({"s": falco_sink("http://127.0.0.1:1/")}, ("sinks",)) == []


def test_event_records_would_be_refused() -> None:
    from tracehound.record import alert_record, encode, event_record

    assert decode_like_falcosidekick(encode(event_record(make_event(1)))) is None
    assert decode_like_falcosidekick(encode(alert_record(make_alert(1)))) is not None

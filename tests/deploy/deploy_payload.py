"""Alert records as tracehound builds them, and the Lambda sink's payload bytes."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import tracehound.record as record_mod
from tracehound.event import Alert, Event, ProcInfo
from tracehound.sinks.aws_lambda import LambdaSink, LambdaSinkConfig
from tracehound.task import TaskInfo


def alert(priority: str, rule: str, task_arn: str | None, cluster: str | None) -> dict[str, Any]:
    """A record made by tracehound.record for a shell dup2'd onto a socket."""
    parent = ProcInfo(1, 0, "nginx", "/usr/sbin/nginx", ("nginx",), "/", 0, 0)
    proc = ProcInfo(42, 1, "bash", "/usr/bin/bash", ("bash", "-i"), "/", 101, 101, parent)
    ev = Event(time.time_ns(), "dup2", 42, proc, {"fd.num": 1, "fd.name": "10.0.0.9:4444"})
    fields: dict[str, Any] = {"container.name": "app"}
    if task_arn:
        fields["aws.ecs.task_arn"] = task_arn
    if cluster:
        fields["aws.ecs.cluster"] = cluster
    verdict = Alert(ev, rule, priority, f"{rule} by bash", ("shell",), "u1")
    return record_mod.alert_record(verdict, TaskInfo(fields))


def event_only(task_arn: str) -> dict[str, Any]:
    rec = alert("Critical", "x", task_arn, None)
    for key in ("rule", "priority", "output", "uuid"):
        rec.pop(key)
    return rec


class _Body:
    async def __aenter__(self) -> _Body:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def read(self) -> bytes:
        return b""


class _CapturingLambda:
    """Stands in for the aiobotocore client: keeps what Invoke was given."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"StatusCode": 202, "Payload": _Body()}


def lambda_payload(records: list[dict[str, Any]]) -> Any:
    """What the responder receives: the real lambda sink's Invoke payload, decoded as
    Lambda does before calling the handler."""
    cfg = LambdaSinkConfig(function_name="tracehound-responder")
    sink = LambdaSink("responder", cfg)
    sink.client = _CapturingLambda()
    for chunk in sink.split(records):
        asyncio.run(sink.send(chunk))
    (call,) = sink.client.calls  # small test batches: one invocation
    assert call["FunctionName"] == "tracehound-responder" and call["InvocationType"] == "Event"
    return json.loads(call["Payload"])

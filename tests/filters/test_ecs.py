"""ECS task metadata v4: fetched once at start from a local server shaped like AWS's examples."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from aiohttp import web

from tracehound.record import event_record

from .conftest import exec_ev, make_chain, proc, started

TASK_ARN = "arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c"
CLUSTER = "arn:aws:ecs:us-west-2:111122223333:cluster/default"

# Shaped like the published v4 examples for a Fargate task (values are made up).
CONTAINER_DOC: dict[str, Any] = {
    "DockerId": "158d1c8083dd49d6b527399fd6414f5c-1234567890",
    "Name": "app",
    "DockerName": "app",
    "Image": "111122223333.dkr.ecr.us-west-2.amazonaws.com/shop/api:1.4.2",
    "ImageID": "sha256:7e1f3c2a0f1b4f0b8a6f9d1c2b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e",
    "Labels": {
        "com.amazonaws.ecs.cluster": CLUSTER,
        "com.amazonaws.ecs.container-name": "app",
        "com.amazonaws.ecs.task-arn": TASK_ARN,
        "com.amazonaws.ecs.task-definition-family": "shop-api",
        "com.amazonaws.ecs.task-definition-version": "7",
    },
    "DesiredStatus": "RUNNING",
    "KnownStatus": "RUNNING",
    "Limits": {"CPU": 2},
    "CreatedAt": "2026-11-22T09:00:01.123456789Z",
    "StartedAt": "2026-11-22T09:00:02.123456789Z",
    "Type": "NORMAL",
    "LogDriver": "awslogs",
    "LogOptions": {"awslogs-group": "/ecs/shop-api", "awslogs-region": "us-west-2"},
    "ContainerARN": "arn:aws:ecs:us-west-2:111122223333:container/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab",  # noqa: E501
    "Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": ["10.0.1.23"]}],
}
TASK_DOC: dict[str, Any] = {
    "Cluster": CLUSTER,
    "TaskARN": TASK_ARN,
    "Family": "shop-api",
    "Revision": "7",
    "DesiredStatus": "RUNNING",
    "KnownStatus": "RUNNING",
    "Limits": {"CPU": 0.5, "Memory": 1024},
    "PullStartedAt": "2026-11-22T08:59:50.000000000Z",
    "PullStoppedAt": "2026-11-22T09:00:00.000000000Z",
    "AvailabilityZone": "us-west-2b",
    "LaunchType": "FARGATE",
    "Containers": [CONTAINER_DOC],
    "ClockDrift": {"ClockErrorBound": 0.4, "ReferenceTimestamp": "2026-11-22T09:00:00Z"},
    "EphemeralStorageMetrics": {"Utilized": 261, "Reserved": 20496},
}


@pytest.fixture
async def metadata_server() -> AsyncIterator[tuple[str, list[str]]]:
    hits: list[str] = []

    async def container(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response(CONTAINER_DOC)

    async def task(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response(TASK_DOC)

    app = web.Application()
    app.router.add_get("/v4/abc-123", container)
    app.router.add_get("/v4/abc-123/task", task)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/v4/abc-123", hits
    await runner.cleanup()


async def test_ecs_metadata_fills_static_fields(
    metadata_server: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, hits = metadata_server
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", url)
    c = make_chain()
    async with started(c):
        assert sorted(hits) == ["/v4/abc-123", "/v4/abc-123/task"]
        assert c.ctx.task.fields["aws.ecs.task_arn"] == TASK_ARN
        assert c.ctx.task.task_id == TASK_ARN.rsplit("/", 1)[1]
        assert c.ctx.task.fields["aws.ecs.cluster"] == CLUSTER
        assert c.ctx.task.fields["aws.ecs.task_family"] == "shop-api"
        assert c.ctx.task.fields["aws.ecs.availability_zone"] == "us-west-2b"
        assert c.ctx.task.fields["container.name"] == "app"
        assert c.ctx.task.fields["container.id"] == CONTAINER_DOC["DockerId"]
        assert c.ctx.task.fields["container.image.tag"] == "1.4.2"
        # records and rule outputs see them
        pm = proc("apt-get install nmap", parent=proc("node x.js", exe="/usr/bin/node"))
        _, alerts = c.process([exec_ev(pm)])
        (a,) = alerts
        assert a.output.endswith(f"image={CONTAINER_DOC['Image']})")
        rec = event_record(a.event, c.ctx.task)
        assert rec["output_fields"]["aws.ecs.task_arn"] == TASK_ARN
        assert c.stats()["ecs_metadata"] is True


async def test_off_ecs_start_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECS_CONTAINER_METADATA_URI_V4", raising=False)
    c = make_chain()
    async with started(c):
        pass
    assert "aws.ecs.task_arn" not in c.ctx.task.fields and not c.ctx.task.fetched
    assert c.stats()["ecs_metadata"] is False


async def test_unreachable_endpoint_does_not_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", "http://127.0.0.1:9/v4/x")
    c = make_chain(enrich={"ecs_timeout_secs": 1.0})
    async with started(c):
        pass
    assert c.enricher.ecs_errors == 1


async def test_metadata_is_refreshed_until_the_chain_stops(
    metadata_server: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, hits = metadata_server
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", url)
    c = make_chain(enrich={"ecs_refresh_secs": 0.05})
    async with started(c):
        with anyio.fail_after(10):
            while len(hits) < 6:  # the first read and at least two refreshes
                await anyio.sleep(0.02)
    n = len(hits)
    await anyio.sleep(0.2)
    assert len(hits) == n  # stop() ended the refresh loop

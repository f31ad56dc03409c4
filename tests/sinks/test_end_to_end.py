"""`tracehound run` with every sink at once, and SIGTERM with records pending.

The agent runs as a real subprocess tracing a real program; the SIEM (aiohttp, in this
test's event loop), CloudWatch Logs and Lambda (moto) are real servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import get_session
from sinkhelp import AWS_ENV, Moto, Siem, create_function, get_events

pytestmark = pytest.mark.skipif(
    shutil.which("tracehound") is None, reason="the tracehound CLI is not installed"
)

FAST = """
request.retry_attempts = 200
request.retry_initial_backoff_secs = 0.01
request.retry_max_duration_secs = 0.2
batch.timeout_secs = 0.05
"""


def assert_nothing_dropped(stderr: bytes, sinks: int) -> None:
    finals = [line for line in stderr.decode().splitlines() if "final: sink " in line]
    assert len(finals) == sinks, stderr.decode()
    assert all(" dropped=0 " in line for line in finals), stderr.decode()


def canon(records: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in records)


async def tracehound(config: Path, *cmd: str) -> asyncio.subprocess.Process:
    exe = shutil.which("tracehound")
    assert exe is not None
    return await asyncio.create_subprocess_exec(
        exe,
        "run",
        "--config",
        str(config),
        "--",
        *cmd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **AWS_ENV},
    )


async def test_all_sinks_receive_the_same_records(
    tmp_path: Path, siem: Siem, aws_env: Moto
) -> None:
    group = f"/tracehound/e2e-{uuid.uuid4().hex[:8]}"
    function = await create_function(aws_env)
    out = tmp_path / "records.jsonl"
    config = tmp_path / "tracehound.toml"
    config.write_text(
        f"""
[agent]
shutdown_timeout_secs = 20

[sinks.file]
type = "file"
inputs = ["events", "alerts"]
path = "{out}"
{FAST}

[sinks.siem]
type = "webhook"
inputs = ["events", "alerts"]
url = "{siem.url}"
encoding = "ndjson"
compression = "gzip"
{FAST}

[sinks.cloudwatch]
type = "cloudwatch_logs"
inputs = ["events", "alerts"]
group_name = "{group}"
stream_name = "app"
endpoint_url = "{aws_env.url}"
{FAST}

[sinks.lambda]
type = "lambda"
inputs = ["events", "alerts"]
function_name = "{function}"
endpoint_url = "{aws_env.url}"
{FAST}
"""
    )
    work = tmp_path / "work"
    work.mkdir()
    script = f"for i in 1 2 3 4 5 6 7 8 9 10; do echo $i > {work}/f$i; done; cat /etc/hostname"
    proc = await tracehound(config, "/bin/sh", "-c", script)
    _, stderr = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, stderr.decode()

    from_file = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(from_file) >= 10
    assert any(r["output_fields"].get("fd.name") == f"{work}/f10" for r in from_file)
    async with get_session().create_client(
        "logs", region_name="us-east-1", endpoint_url=aws_env.url
    ) as logs:
        from_cw = [json.loads(e["message"]) for e in await get_events(logs, group, "app")]
    from_lambda = [r for p in aws_env.lambda_payloads(function) for r in p]
    assert canon(siem.received) == canon(from_file)
    assert canon(from_cw) == canon(from_file)
    assert canon(from_lambda) == canon(from_file)
    assert_nothing_dropped(stderr, 4)


async def test_sigterm_with_records_pending_delivers_them(tmp_path: Path, siem: Siem) -> None:
    siem.delay = 0.15  # a slow SIEM: records are still queued when SIGTERM arrives
    out = tmp_path / "records.jsonl"
    config = tmp_path / "tracehound.toml"
    config.write_text(
        f"""
[agent]
shutdown_timeout_secs = 25

[sinks.file]
type = "file"
inputs = ["events"]
path = "{out}"
{FAST}

[sinks.siem]
type = "webhook"
inputs = ["events"]
url = "{siem.url}"
batch.max_events = 10
request.retry_attempts = 200
request.retry_initial_backoff_secs = 0.01
request.retry_max_duration_secs = 0.2
"""
    )
    work = tmp_path / "work"
    work.mkdir()
    files = " ".join(str(i) for i in range(60))
    script = f"for i in {files}; do echo $i > {work}/f$i; done; echo ready; exec sleep 60"
    proc = await tracehound(config, "/bin/sh", "-c", script)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert line == b"ready\n"
    await asyncio.sleep(0.3)  # the file sink (no delay) has them; the SIEM is behind
    pending_at_term = len(siem.received)
    proc.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    from_file = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(from_file) >= 60
    assert pending_at_term < len(from_file), "nothing was pending: the test proves nothing"
    assert canon(siem.received) == canon(from_file), stderr.decode()
    assert_nothing_dropped(stderr, 2)

"""The Security Lake road end to end: `tracehound run` with a firehose sink
(encoding = "ocsf", disk buffer) into moto's Firehose, whose S3 destination holds what
Security Lake would convert; every record read back validates against the OCSF schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import anyio
from aiobotocore.session import get_session
from ocsf_check import validate
from sinkhelp import AWS_ENV, Moto

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "support"))
from th_support import AGENT  # noqa: E402


async def stream_into_bucket(moto: Moto) -> str:
    name = f"lake-{uuid.uuid4().hex[:8]}"
    session = get_session()
    async with (
        session.create_client("s3", region_name="us-east-1", endpoint_url=moto.url) as s3,
        session.create_client("firehose", region_name="us-east-1", endpoint_url=moto.url) as fh,
    ):
        await s3.create_bucket(Bucket=name)
        await fh.create_delivery_stream(
            DeliveryStreamName=name,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": f"arn:aws:s3:::{name}",
                "Prefix": "ext/tracehound/1.0/",
            },
        )
    return name


async def bucket_records(moto: Moto, bucket: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with get_session().create_client(
        "s3", region_name="us-east-1", endpoint_url=moto.url
    ) as s3:
        for obj in (await s3.list_objects_v2(Bucket=bucket)).get("Contents", []):
            body = await (await s3.get_object(Bucket=bucket, Key=obj["Key"]))["Body"].read()
            out += [json.loads(line) for line in body.splitlines()]
    return out


async def test_agent_to_firehose_in_ocsf(aws_env: Moto, tmp_path: Path) -> None:
    name = await stream_into_bucket(aws_env)
    cfg = tmp_path / "th.toml"
    cfg.write_text(
        f"""
[sinks.lake]
type = "firehose"
stream_name = "{name}"
endpoint_url = "{aws_env.url}"
encoding = "ocsf"
inputs = ["events", "alerts"]
buffer.type = "disk"
buffer.path = "{tmp_path / "buffer"}"
"""
    )
    done = await anyio.run_process(
        [*AGENT, "run", "--config", str(cfg), "--", "sh", "-c", "cat /etc/shadow >/dev/null; ls /"],
        env={**os.environ, **AWS_ENV},
        check=False,
        stdout=subprocess.DEVNULL,
    )
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert "sink lake (firehose)" in err and "dropped=0" in err and "buffered=0" in err
    recs = await bucket_records(aws_env, name)
    assert len(recs) > 10
    for r in recs:
        assert not validate(r), (r.get("type_name"), validate(r))
    launches = {r["process"]["name"] for r in recs if r["type_uid"] == 100701}
    assert {"cat", "ls"} <= launches
    findings = [r for r in recs if r["class_uid"] == 2004]
    assert any(
        e.get("file", {}).get("path") == "/etc/shadow" for f in findings for e in f["evidences"]
    ), findings
    assert list((tmp_path / "buffer" / "lake").glob("*.seg"))  # the disk buffer was used

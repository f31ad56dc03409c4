"""One baseline per service in S3 (filters.baseline.file = "s3://..."), against moto's own
server (a subprocess, unmodified): moto's PutObject honours If-Match and If-None-Match,
so conflicts are real 412 answers. (moto checks the condition and writes without a lock,
so two writes racing inside one request's handling could both pass; the deterministic
conflict test below orders the writes itself, and the two-agent test checks the union.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import get_session

from tracehound.agent.config import ConfigError, parse_config
from tracehound.filters.baseline import RULE_NAME, normalize_path

from .conftest import exec_ev, make_chain, proc, started

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "support"))
from th_support import AGENT  # noqa: E402

CREDS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    logf = open(tmp_path_factory.mktemp("moto") / "server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-c", "from moto.server import main; main()", "-H", "127.0.0.1",
         "-p", str(port)],
        stdout=logf, stderr=subprocess.STDOUT, env={**os.environ, **CREDS},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1).read()
            break
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "moto did not start"
            time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(10)
    logf.close()


@pytest.fixture
async def bucket(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    for k, v in CREDS.items():
        monkeypatch.setenv(k, v)
    name = f"baselines-{uuid.uuid4().hex[:8]}"
    async with get_session().create_client("s3", endpoint_url=moto_url) as s3:
        await s3.create_bucket(Bucket=name)
    yield name


async def read_object(moto_url: str, bucket: str, key: str) -> dict[str, Any]:
    async with get_session().create_client("s3", endpoint_url=moto_url) as s3:
        body = await (await s3.get_object(Bucket=bucket, Key=key))["Body"].read()
    doc: dict[str, Any] = json.loads(body)
    return doc


def s3_baseline(url: str, moto_url: str, mode: str = "learn", every: float = 0) -> dict[str, Any]:
    return {
        "baseline": {
            "mode": mode,
            "file": url,
            "endpoint_url": moto_url,
            "save_interval_secs": every,
        }
    }


APP = proc("python3 app.py", exe="/usr/bin/python3.11")
OWNER = normalize_path(APP.exepath)  # the baseline's key for what APP runs


def runs(*programs: str) -> list[Any]:
    return [exec_ev(proc(p, parent=APP)) for p in programs]


async def test_conflicting_writes_merge_into_the_union(moto_url: str, bucket: str) -> None:
    url = f"s3://{bucket}/shop-api/baseline.json"
    a = make_chain(**s3_baseline(url, moto_url))
    b = make_chain(**s3_baseline(url, moto_url))
    async with started(a), started(b):  # both load: no object yet
        a.process(runs("ls /", "curl http://x"))
        b.process(runs("tar cf /tmp/x /app", "gzip /tmp/x"))
        await b.save_baseline()  # b creates the object (If-None-Match: *)
        await a.save_baseline()  # a's If-None-Match fails (412): it reads b's, merges, writes
        assert a.stats()["baseline_s3_conflicts"] == 1
        assert b.stats()["baseline_s3_conflicts"] == 0
        # a now knows what b learned, without restarting
        assert a.baseline.store.contains(OWNER, "exec", "/usr/bin/gzip")
        b.process(runs("sh -c true"))
        await b.save_baseline()  # b's ETag is stale too now: 412, merge, write
        assert b.stats()["baseline_s3_conflicts"] == 1
    doc = await read_object(moto_url, bucket, "shop-api/baseline.json")
    assert doc["executables"][OWNER]["exec"] == [
        "/usr/bin/curl", "/usr/bin/gzip", "/usr/bin/ls", "/usr/bin/sh", "/usr/bin/tar",
    ]  # fmt: skip


async def test_s3_down_at_save_keeps_learning_for_the_next_save(moto_url: str, bucket: str) -> None:
    url = f"s3://{bucket}/svc/baseline.json"
    chain = make_chain(**s3_baseline(url, f"http://127.0.0.1:{_free_port()}"))
    async with started(chain):  # load fails too: logged, the agent runs on
        chain.process(runs("ls /"))
        await chain.save_baseline()
        assert chain.baseline.dirty  # not lost: saved next time
        assert chain._s3 is not None
        chain._s3.endpoint_url = moto_url  # S3 reachable again
        await chain.save_baseline()
        assert not chain.baseline.dirty
    doc = await read_object(moto_url, bucket, "svc/baseline.json")
    assert doc["executables"][OWNER]["exec"] == ["/usr/bin/ls"]


def agent_config(tmp: Path, name: str, url: str, moto_url: str, mode: str) -> Path:
    cfg = tmp / f"{name}.toml"
    cfg.write_text(
        f"""
[filters.baseline]
mode = "{mode}"
file = "{url}"
endpoint_url = "{moto_url}"
save_interval_secs = 0.2
kinds = ["exec"]

[sinks.out]
type = "file"
path = "{tmp / name}.jsonl"
inputs = ["alerts"]
"""
    )
    return cfg


def unexpected(tmp: Path, name: str) -> list[str]:
    path = tmp / f"{name}.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    recs = [json.loads(x) for x in lines]
    return [r["output"] for r in recs if r.get("rule") == RULE_NAME]


def test_two_agents_share_one_baseline_and_a_new_task_starts_in_detect_mode(
    tmp_path: Path, moto_url: str, bucket: str
) -> None:
    url = f"s3://{bucket}/shop-api/baseline.json"
    env = {**os.environ, **CREDS}
    # Two tasks of one service, at the same time, each doing its own part of the work.
    script_a = "for i in 1 2 3; do ls / >/dev/null; sleep 0.3; done"
    script_b = "for i in 1 2 3; do date >/dev/null; id >/dev/null; sleep 0.3; done"
    procs = []
    for n, script in (("a", script_a), ("b", script_b)):
        cfg = agent_config(tmp_path, n, url, moto_url, "learn")
        argv = [*AGENT, "run", "--config", str(cfg), "--", "sh", "-c", script]
        procs.append(subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    doc = json.loads(s3.get_object(Bucket=bucket, Key="shop-api/baseline.json")["Body"].read())
    learned = set(doc["executables"]["/usr/bin/dash"]["exec"])
    assert {"/usr/bin/ls", "/usr/bin/date", "/usr/bin/id"} <= learned, learned
    # A new task in detect mode: what either peer learned is known, only the new is flagged.
    cfg = agent_config(tmp_path, "c", url, moto_url, "detect")
    r = subprocess.run(
        [*AGENT, "run", "--config", str(cfg), "--", "sh", "-c", "ls / >/dev/null; id; uname"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    alerts = unexpected(tmp_path, "c")
    assert len(alerts) == 1 and "ran /usr/bin/uname" in alerts[0], alerts


def test_config_error_names_key_line_and_value() -> None:
    text = '[filters.baseline]\nmode = "learn"\nfile = "s3://bucket-only"\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, "t.toml")
    [issue] = info.value.issues
    assert (issue.path, issue.line) == ("filters.baseline.file", 3)
    assert issue.message == "must be s3://BUCKET/KEY, got 's3://bucket-only'"

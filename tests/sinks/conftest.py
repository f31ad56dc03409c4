"""Fixtures for the sink tests: a real SIEM (aiohttp server) with fault modes and a real
moto server subprocess for CloudWatch Logs and Lambda."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sinkhelp import AWS_ENV, HERE, Moto, Siem, free_port


@pytest.fixture
async def siem() -> AsyncIterator[Siem]:
    s = Siem()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    """One moto server for the whole session; tests use their own group/stream/function names."""
    saved = {k: os.environ.get(k) for k in (*AWS_ENV, "AWS_PROFILE")}
    os.environ.update(AWS_ENV)
    os.environ.pop("AWS_PROFILE", None)
    record_dir = tmp_path_factory.mktemp("moto")
    port = free_port()
    log = open(record_dir / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_moto_server.py"), str(port), str(record_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **AWS_ENV},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError((record_dir / "server.log").read_text()) from None
            time.sleep(0.1)
    # Lambda without Docker: moto's documented runtime switch.
    req = urllib.request.Request(
        f"{url}/moto-api/config",
        data=json.dumps({"lambda": {"use_docker": False}}).encode(),
        method="POST",
    )
    urllib.request.urlopen(req, timeout=5).read()
    yield Moto(url, record_dir)
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    for k, old in saved.items():
        if old is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = old


@pytest.fixture
def aws_env(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> Moto:
    for k, v in AWS_ENV.items():
        monkeypatch.setenv(k, v)
    return moto

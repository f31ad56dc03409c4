"""Fixtures for deploy/: paths, a moto server, the responder package on sys.path."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# The responder is deployed as its own Lambda package, not installed with tracehound;
# this directory holds helper modules (deploy_*.py) the tests import by name.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy" / "responder"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("moto server did not start listening")


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    port = free_port()
    env = {**os.environ, **DUMMY_AWS_ENV}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Dummy credentials and AWS_ENDPOINT_URL so boto3 clients talk to moto only."""
    for k, v in DUMMY_AWS_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_url


@pytest.fixture(scope="session")
def bundle_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/bundle/build.sh run once per session; returns DIST/bin/tracehound."""
    root = tmp_path_factory.mktemp("bundle")
    build = Path(__file__).resolve().parents[2] / "deploy" / "bundle" / "build.sh"
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(
        ["sh", str(build), str(root / "dist"), str(root / "work")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root / "dist" / "bin" / "tracehound"

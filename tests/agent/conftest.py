"""Test programs for the tracer, compiled once per session."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from th_support import BACKENDS

SRC = Path(__file__).parent / "programs"

# name -> gcc flags
PROGRAMS = {
    "threads": ["-O1", "-pthread"],
    "forks": ["-O1"],
    "rawstatic": ["-O1", "-static", "-nostdlib", "-fno-stack-protector"],
    "x32open": ["-O1", "-static", "-nostdlib", "-fno-stack-protector"],
    "int80": ["-O1", "-m32", "-static", "-nostdlib", "-fno-stack-protector", "-fno-pie", "-no-pie"],
    "sigtest": ["-O1"],
    "threadexec": ["-O1", "-pthread"],
    # the attacker's programs of test_truth.py
    "swapopen": ["-O1", "-pthread"],
    "swapconnect": ["-O1", "-pthread"],
    "swapexec": ["-O1", "-pthread"],
    "openpaths": ["-O1"],
    "badnames": ["-O1"],
}


@pytest.fixture(scope="session")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("gcc") is None:
        pytest.fail("gcc is required (installed by .ci/run)")
    out = tmp_path_factory.mktemp("programs")
    built = {}
    for name, flags in PROGRAMS.items():
        exe = out / name
        subprocess.run(["gcc", *flags, "-o", str(exe), str(SRC / f"{name}.c")], check=True)
        built[name] = exe
    return built


@pytest.fixture(params=BACKENDS)
def tracer_backend(request: pytest.FixtureRequest) -> str:
    """Every tracer test runs on every backend: one event stream whatever the backend."""
    return str(request.param)

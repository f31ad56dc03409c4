"""Test programs for the tracer, compiled once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from th_support import BACKENDS

SRC = Path(__file__).parent / "programs"

M32_STATIC = ["-O1", "-m32", "-static", "-nostdlib", "-fno-stack-protector", "-fno-pie", "-no-pie"]
# name -> gcc flags
PROGRAMS = {
    "threads": ["-O1", "-pthread"],
    "forks": ["-O1"],
    "rawstatic": ["-O1", "-static", "-nostdlib", "-fno-stack-protector"],
    "x32open": ["-O1", "-static", "-nostdlib", "-fno-stack-protector"],
    "int80": M32_STATIC,
    "sigtest": ["-O1"],
    "threadexec": ["-O1", "-pthread"],
    "busyexec": ["-O1", "-pthread"],
    # the attacker's programs of test_truth.py
    "swapopen": ["-O1", "-pthread"],
    "swapconnect": ["-O1", "-pthread"],
    "swapexec": ["-O1", "-pthread"],
    "openpaths": ["-O1"],
    "badnames": ["-O1"],
    "tamper": ["-O1"],
    "listener": ["-O1", "-pthread"],
    "uring": ["-O1"],
    "untraced": ["-O1"],
    "unreadable": ["-O1"],
    "sharedswap": ["-O1"],  # test_exit_skips.py
    "sharedconnect": ["-O1"],
    "raceread": ["-O1"],
    "flipper": ["-O1"],
    "chrootread": ["-O1"],
    "uffdopen": ["-O1"],
    "remapswap": ["-O1"],
    "asyncread": ["-O1"],
    "freshbuffers": ["-O1"],
    "tidreuse": ["-O1", "-pthread"],  # test_truth.py
    # test_interrupt_exits.py
    "sigopens": ["-O1"],
    "handleropens": ["-O1"],
    "int80shadow": M32_STATIC,
}


# x86 assembly (int 0x80, x32, raw x86_64 syscalls): not built elsewhere (scripts/arm64-vm).
X86_ONLY = {"rawstatic", "x32open", "int80", "int80shadow"}


class Programs(dict[str, Path]):
    """The built programs; asking for an x86-only one on another machine skips the test."""

    def __missing__(self, name: str) -> Path:
        if name in X86_ONLY:
            pytest.skip(f"{name} is x86 code; this machine is {os.uname().machine}")
        raise KeyError(name)


@pytest.fixture(scope="session")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("gcc") is None:
        pytest.fail("gcc is required (installed by .ci/run)")
    out = tmp_path_factory.mktemp("programs")
    built = Programs()
    x86 = os.uname().machine == "x86_64"
    for name, flags in PROGRAMS.items():
        if name in X86_ONLY and not x86:
            continue
        exe = out / name
        subprocess.run(["gcc", *flags, "-o", str(exe), str(SRC / f"{name}.c")], check=True)
        built[name] = exe
    return built


@pytest.fixture(params=BACKENDS)
def tracer_backend(request: pytest.FixtureRequest) -> str:
    """Every tracer test runs on every backend: one event stream whatever the backend."""
    return str(request.param)

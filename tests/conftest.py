"""Fixtures shared by every test package: running the real agent on real programs."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from th_support import AGENT, TracedRun, with_backend, write_config


@pytest.fixture
def tracer_backend() -> str | None:
    """The tracer backend for run_traced: None is the config's default ("auto").
    tests/agent runs its tests on every backend (see its conftest)."""
    return None


@pytest.fixture
def run_traced(tmp_path: Path, tracer_backend: str | None) -> Callable[..., TracedRun]:
    """Run `tracehound run --config X -- argv` with a file sink; return its records."""
    counter = iter(range(1_000_000))

    def run(
        argv: list[str],
        *,
        config: str = "",
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        stdin: Any = subprocess.DEVNULL,
    ) -> TracedRun:
        n = next(counter)
        records = tmp_path / f"records-{n}.jsonl"
        config, prefix = with_backend(config, tracer_backend)
        cfg = write_config(tmp_path / f"tracehound-{n}.toml", records, config)
        proc = subprocess.run(
            [*prefix, *AGENT, "run", "--config", str(cfg), "--", *argv],
            cwd=cwd or tmp_path,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=stdin,
        )
        lines = records.read_text().splitlines() if records.exists() else []
        return TracedRun(proc.returncode, proc.stdout, proc.stderr, [json.loads(x) for x in lines])

    return run

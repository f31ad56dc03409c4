"""Fixtures shared by every test package: running the real agent on real programs."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from th_support import AGENT, TracedRun, write_config


@pytest.fixture
def run_traced(tmp_path: Path) -> Callable[..., TracedRun]:
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
        cfg = write_config(tmp_path / f"tracehound-{n}.toml", records, config)
        proc = subprocess.run(
            [*AGENT, "run", "--config", str(cfg), "--", *argv],
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

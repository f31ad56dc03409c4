"""Fixtures shared by every test package: running the real agent on real programs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

AGENT = [sys.executable, "-m", "agent.cli"]


@dataclass
class TracedRun:
    returncode: int
    stdout: str
    stderr: str
    records: list[dict[str, Any]]

    def events(self, evt_type: str | None = None) -> list[dict[str, Any]]:
        """output_fields of the event records (not alerts), optionally of one evt.type."""
        out = [r["output_fields"] for r in self.records if "rule" not in r]
        return [f for f in out if evt_type is None or f.get("evt.type") == evt_type]

    def alerts(self) -> list[dict[str, Any]]:
        return [r for r in self.records if "rule" in r]

    def tracer_stats(self) -> dict[str, Any]:
        for line in self.stderr.splitlines():
            if line.startswith("tracehound: tracer stats "):
                stats: dict[str, Any] = json.loads(line.split(" stats ", 1)[1])
                return stats
        raise AssertionError(f"no tracer stats in stderr:\n{self.stderr}")


def write_config(path: Path, records: Path, extra: str = "") -> Path:
    path.write_text(
        f"{extra}\n"
        "[sinks.out]\n"
        'type = "file"\n'
        f'path = "{records}"\n'
        'inputs = ["events", "alerts"]\n'
    )
    return path


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

"""Run bench/pipeline_bench.py (written with the filters) and pick out its figure."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent / "pipeline_bench.py"
_RATE = re.compile(r"([\d][\d,_]*(?:\.\d+)?)\s*(k|K|M)?\s*(?:events|ev)\s*/\s*s")


def _from_json(text: str) -> float | None:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        for key, val in obj.items():
            if isinstance(val, int | float) and re.search(r"(events?|ev)_?per_?s", key):
                return float(val)
    return None


def _from_text(text: str) -> float | None:
    found = _RATE.findall(text)
    if not found:
        return None
    num, unit = found[-1]
    return (
        float(num.replace(",", "").replace("_", "")) * {"": 1, "k": 1e3, "K": 1e3, "M": 1e6}[unit]
    )


def run(quick: bool, env: dict[str, str]) -> dict[str, Any]:
    if not SCRIPT.exists():
        return {"error": "bench/pipeline_bench.py not present yet"}
    root = SCRIPT.parent.parent
    # --json prints one object with events_per_sec; fall back to plain output if refused
    size = ["--events", "50000"] if quick else []
    attempts = [["--json", *size], size, []]
    out = None
    for extra in attempts:
        out = subprocess.run(
            [sys.executable, str(SCRIPT), *extra], cwd=root, env=env,
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        if out.returncode == 0:
            break
    assert out is not None
    text = out.stdout + "\n" + out.stderr
    rate = _from_json(out.stdout) or _from_text(text)
    result: dict[str, Any] = {"events_per_s": rate, "output": text.strip()[-3000:]}
    if out.returncode != 0 or rate is None:
        result["error"] = (
            f"exit {out.returncode}; no events/s figure found"
            if rate is None
            else f"exit {out.returncode}"
        )
    return result

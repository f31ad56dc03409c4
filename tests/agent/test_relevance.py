"""Events that cannot matter are counted, not handed over: the alerts stay the same.

With no sink taking events, the process table asks the stage chain once per distinct
event (same type, fields, tags and process snapshot) whether it could alert or teach a
stage; the repeats of one that could not are only counted (tracer stats `filtered`).
These runs compare, on every backend, the alerts of an alerts-only config with those of
the same run when a sink also takes every event (nothing filtered): a repeat of an
alerting event alerts every time, and a verdict that read the files written so far
(fd.is_upper_layer) is made again once a write changed them.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from th_support import AGENT, with_backend

READ_SENSITIVE = "Read sensitive file by unexpected program"
NEW_LIBRARY = "Library loaded from a file written after start"
# The shell opens the files itself (`read` with a redirection: no new process, so one
# process snapshot): a plain file many times, /etc/shadow twice, a library before and
# after the shell itself wrote it.
SCRIPT = """
i=0
while [ $i -lt 200 ]; do read a < /etc/hostname; i=$((i+1)); done
read a < /etc/shadow
read a < /etc/hostname
read a < /etc/shadow
read a < lib.so
read a < lib.so
echo y > lib.so
read a < lib.so
read a < lib.so
"""


def _run(tmp_path: Path, backend: str, events: bool, n: int) -> tuple[list[dict[str, Any]], dict]:
    records = tmp_path / f"records-{n}.jsonl"
    inputs = '["events", "alerts"]' if events else '["alerts"]'
    config, prefix = with_backend(
        f'[sinks.out]\ntype = "file"\npath = "{records}"\ninputs = {inputs}\n', backend
    )
    cfg = tmp_path / f"tracehound-{n}.toml"
    cfg.write_text(config)
    (tmp_path / "lib.so").write_text("x\n")  # in the image: not written during the run
    proc = subprocess.run(
        [*prefix, *AGENT, "run", "--config", str(cfg), "--", "sh", "-c", SCRIPT],
        cwd=tmp_path,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    stats = next(
        json.loads(line.split(" stats ", 1)[1])
        for line in proc.stderr.splitlines()
        if line.startswith("tracehound: tracer stats ")
    )
    recs = [json.loads(x) for x in records.read_text().splitlines()]
    return [r for r in recs if "rule" in r], stats


def _summary(alerts: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return sorted((a["rule"], a["output_fields"].get("fd.name")) for a in alerts)


def test_alerts_only_filters_repeats_and_keeps_every_alert(
    tmp_path: Path, tracer_backend: str
) -> None:
    filtered, fstats = _run(tmp_path, tracer_backend, events=False, n=0)
    everything, estats = _run(tmp_path, tracer_backend, events=True, n=1)
    # Nothing is filtered when a sink takes events; most is, when none does.
    assert estats["filtered"] == 0
    assert fstats["filtered"] >= 200, fstats
    assert fstats["events_in"] + fstats["filtered"] == fstats["events"], fstats  # none lost
    assert _summary(filtered) == _summary(everything)
    shadow = [a for a in filtered if a["rule"] == READ_SENSITIVE]
    assert [a["output_fields"]["fd.name"] for a in shadow] == ["/etc/shadow"] * 2
    lib = str(tmp_path / "lib.so")
    new_lib = [a["output_fields"].get("fd.name") for a in filtered if a["rule"] == NEW_LIBRARY]
    assert new_lib == [lib, lib]  # the two reads after the write, not the two before

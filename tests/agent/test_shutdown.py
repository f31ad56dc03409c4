"""The shutdown deadline bounds everything after the application exits."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

from th_support import AGENT


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_agent_exits_within_the_deadline_when_its_only_sink_is_down(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        "[agent]\nshutdown_timeout_secs = 3\n"
        "[sinks.siem]\n"
        'type = "webhook"\n'
        f'url = "http://127.0.0.1:{_closed_port()}/ingest"\n'
        'inputs = ["events"]\n'
        'buffer.max_events = 20\nbuffer.when_full = "block"\n'
        "request.retry_initial_backoff_secs = 0.1\nhealthcheck.enabled = false\n"
    )
    # The application says when it exits: how long it ran (slowed by the blocked
    # sink, and by a slow machine: an emulated guest) is not what the deadline bounds.
    exited_at = tmp_path / "exited-at"
    script = (
        "for i in $(seq 60); do cat /etc/hostname; done > /dev/null; "
        f"date +%s.%N > {exited_at}; exit 4"
    )
    res = subprocess.run(
        [*AGENT, "run", "--config", str(cfg), "--", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
    )
    after_exit = time.time() - float(exited_at.read_text())
    assert res.returncode == 4, res.stderr
    # 3 s of deadline plus the agent's own exit; without the bound it would wait forever.
    assert after_exit < 10, f"took {after_exit:.1f}s after the application exited\n{res.stderr}"
    stats = next(
        json.loads(line.split(" stats ", 1)[1])
        for line in res.stderr.splitlines()
        if line.startswith("tracehound: tracer stats ")
    )
    # Nothing vanished silently: what the sink could not take is counted somewhere.
    assert stats["events"] > 60
    assert "dropped" in res.stderr or stats.get("lost", 0) > 0

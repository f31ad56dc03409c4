"""file and stdout sinks: JSON lines, rotation, fsync, the readable format."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from sinkhelp import FAST_REQUEST, make_alert, make_event, route_all, seqs, sink_cfg

from tracehound.agent.router import Router
from tracehound.sinks.console import ConsoleSink


def file_cfg(path: Path, **extra: Any) -> Any:
    raw = {
        "type": "file",
        "path": str(path),
        "inputs": ["events", "alerts"],
        "batch": {"max_events": 10, "timeout_secs": 0.02},
        "request": FAST_REQUEST,
        **extra,
    }
    return sink_cfg(**raw)


def read_lines(*paths: Path) -> list[dict[str, Any]]:
    out = []
    for p in paths:
        out += [json.loads(line) for line in p.read_text().splitlines()]
    return out


async def test_file_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "events.jsonl"
    router = Router.from_config({"f": file_cfg(path, fsync=True)})
    await router.start()
    await route_all(router, 25)
    await router.route([], [make_alert(99, "Error")])
    await router.stop(10)
    recs = read_lines(path)
    assert seqs(recs) == [*range(25), 99]
    assert recs[-1]["priority"] == "Error" and "rule" not in recs[0]
    assert router.stats()["f"]["sent_records"] == 26


async def test_file_rotation_keeps_n_files(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    router = Router.from_config({"f": file_cfg(path, max_bytes=3000, max_files=2)})
    await router.start()
    await route_all(router, 200, chunk=10)
    await router.stop(10)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]
    for p in tmp_path.iterdir():
        assert p.stat().st_size <= 3000
    # Oldest files were deleted; what is kept is the most recent records, in order.
    kept = seqs(
        read_lines(path.with_name("events.jsonl.2"), path.with_name("events.jsonl.1"), path)
    )
    assert kept == list(range(200 - len(kept), 200))
    assert router.stats()["f"]["sent_records"] == 200


async def test_unwritable_file_is_retried_then_counted(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    request = {**FAST_REQUEST, "retry_attempts": 2}
    router = Router.from_config({"f": file_cfg(blocker / "x.jsonl", request=request)})
    await router.start()
    await route_all(router, 5)
    await router.stop(10)
    st = router.stats()["f"]
    assert st["dropped"] == {"retries_exhausted": 5}
    assert "not-a-dir" in st["last_error"]


async def test_stdout_json_lines(capfd: pytest.CaptureFixture[str]) -> None:
    router = Router.from_config(
        {"out": sink_cfg(type="stdout", inputs=["events"], format="json", request=FAST_REQUEST)}
    )
    await router.start()
    await route_all(router, 3)
    await router.stop(10)
    lines = capfd.readouterr().out.splitlines()
    assert seqs([json.loads(x) for x in lines]) == [0, 1, 2]
    os.fstat(1)  # the agent's fd 1 is still open: the sink closed only its duplicate


async def test_stdout_readable(capfd: pytest.CaptureFixture[str]) -> None:
    cfg = sink_cfg(type="console", target="stdout", format="readable")
    sink = ConsoleSink("out", cfg)
    await sink.open()
    from tracehound.record import alert_record, event_record

    await sink.send([event_record(make_event(1)), alert_record(make_alert(2, "Critical"))])
    await sink.close()
    ev, al = capfd.readouterr().out.splitlines()
    assert "cat[42] openat /tmp/f1" in ev and " evt " in ev
    assert "Crit Read sensitive file: sensitive file opened (seq=2)" in al


async def test_console_writes_to_stderr_by_default(capfd: pytest.CaptureFixture[str]) -> None:
    router = Router.from_config(
        {"out": sink_cfg(type="console", inputs=["events"], format="json", request=FAST_REQUEST)}
    )
    await router.start()
    await route_all(router, 3)
    await router.stop(10)
    captured = capfd.readouterr()
    assert captured.out == ""  # the application's stream is left alone
    assert seqs([json.loads(x) for x in captured.err.splitlines() if x.startswith("{")]) == [
        0,
        1,
        2,
    ]
    os.fstat(2)

"""buffer.type = "disk": outages longer than the memory bound, a SIGKILL of the real agent
and a restart, the disk bound, and a damaged tail; the destination is a real HTTP server
(the SIEM) that is down or failing for a while."""

from __future__ import annotations

import os
import signal
import struct
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from sinkhelp import FAST_REQUEST, Siem, free_port, route_all, seqs, sink_cfg

from tracehound.agent.config import ConfigError, parse_config
from tracehound.agent.router import Router

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "support"))
from th_support import AGENT  # noqa: E402

MEMORY_BOUND = 64 * 1024  # buffer.max_size: far less than an outage's worth of records


def disk_cfg(url: str, path: Path, **extra: Any) -> Any:
    raw: dict[str, Any] = {
        "type": "webhook",
        "url": url,
        "encoding": "ndjson",
        "inputs": ["events", "alerts"],
        "buffer": {"type": "disk", "path": str(path), "max_size": MEMORY_BOUND},
        "batch": {"max_events": 500, "timeout_secs": 0.05},
        "request": {**FAST_REQUEST, "retry_attempts": 3},
    }
    return sink_cfg(**{**raw, **extra})


def payloads(directory: Path) -> list[bytes]:
    """Records in a disk buffer's segment files (the documented frame format), in order."""
    out = []
    for seg in sorted(directory.glob("*.seg")):
        data, pos = seg.read_bytes(), 0
        while pos + 8 <= len(data):
            length = struct.unpack_from("<I", data, pos)[0]
            out.append(data[pos + 8 : pos + 8 + length])
            pos += 8 + length
    return out


async def test_outage_longer_than_the_memory_bound_loses_nothing(
    siem: Siem, tmp_path: Path
) -> None:
    siem.fail_next = 10**6  # down (503) until the test says otherwise
    router = Router.from_config({"siem": disk_cfg(siem.url, tmp_path)})
    await router.start()
    await route_all(router, 3000)  # ~2 MB of JSON: 30x the memory bound
    await anyio.sleep(0.5)
    st = router.stats()["siem"]
    assert st["sent_records"] == 0 and st["dropped_total"] == 0 and st["buffered"] == 3000
    assert st["retries"] > 3  # retry_attempts = 3 does not apply: the disk holds the batch
    siem.fail_next = 0
    await router.stop(30)
    assert seqs(siem.received) == list(range(3000))  # all of them, in order
    st = router.stats()["siem"]
    assert st["sent_records"] == 3000 and st["dropped_total"] == 0 and st["buffered"] == 0
    assert st["disk_bytes"] < 64 * 1024  # done segments were given back


async def test_the_same_outage_overflows_a_memory_buffer(siem: Siem) -> None:
    """The control: without the disk, the bound is reached and records are dropped."""
    siem.fail_next = 10**6
    cfg = disk_cfg(siem.url, Path("/unused"), buffer={"max_size": MEMORY_BOUND})
    router = Router.from_config({"siem": cfg})
    await router.start()
    await route_all(router, 3000)
    await router.stop(0.2)
    assert router.stats()["siem"]["dropped"].get("buffer_max_size", 0) > 2000


async def test_records_left_at_shutdown_are_sent_by_the_next_agent_first(
    siem: Siem, tmp_path: Path
) -> None:
    siem.fail_next = 10**6
    first = Router.from_config({"siem": disk_cfg(siem.url, tmp_path)})
    await first.start()
    await route_all(first, 700)
    await first.stop(0.3)  # the deadline passes during the outage
    st = first.stats()["siem"]
    assert st["dropped_total"] == 0 and st["buffered"] == 700  # kept, not dropped
    siem.fail_next = 0
    second = Router.from_config({"siem": disk_cfg(siem.url, tmp_path)})
    await second.start()
    await route_all(second, 100, start=700)
    await second.stop(30)
    assert seqs(siem.received) == list(range(800))
    assert second.stats()["siem"]["sent_records"] == 800


async def test_disk_bound_counts_what_does_not_fit(siem: Siem, tmp_path: Path) -> None:
    siem.fail_next = 10**6
    cfg = disk_cfg(
        siem.url,
        tmp_path,
        buffer={"type": "disk", "path": str(tmp_path), "max_disk_size": 1024 * 1024},
    )
    router = Router.from_config({"siem": cfg})
    await router.start()
    await route_all(router, 4000)  # ~2.7 MB into 1 MiB
    st = router.stats()["siem"]
    kept = st["buffered"]
    assert st["dropped"] == {"disk_full": 4000 - kept} and 1000 < kept < 4000
    assert st["disk_bytes"] <= 1024 * 1024
    siem.fail_next = 0
    await router.stop(30)
    assert seqs(siem.received) == list(range(kept))  # the oldest, in order
    st = router.stats()["siem"]
    assert st["sent_records"] + st["dropped_total"] == 4000


async def test_damaged_tail_is_cut_and_counted(siem: Siem, tmp_path: Path) -> None:
    siem.fail_next = 10**6
    first = Router.from_config({"siem": disk_cfg(siem.url, tmp_path)})
    await first.start()
    await route_all(first, 10)
    await first.stop(0.2)
    [seg] = (tmp_path / "siem").glob("*.seg")
    with open(seg, "ab") as f:  # a frame whose body never made it to the disk
        f.write(struct.pack("<II", 500, 0) + b'{"half')
    siem.fail_next = 0
    second = Router.from_config({"siem": disk_cfg(siem.url, tmp_path)})
    await second.start()
    await route_all(second, 5, start=10)
    await second.stop(30)
    assert seqs(siem.received) == list(range(15))
    assert second.stats()["siem"]["dropped"] == {"disk_corrupt": 1}


async def test_one_agent_per_directory(siem: Siem, tmp_path: Path) -> None:
    a = Router.from_config({"siem": disk_cfg(siem.url, tmp_path)})
    b = Router.from_config({"siem": disk_cfg(siem.url, tmp_path)})
    await a.start()
    await b.start()
    await route_all(b, 3)
    await b.stop(5)
    await a.stop(5)
    st = b.stats()["siem"]
    assert st["dropped"] == {"disk_unavailable": 3} and "in use" in st["last_error"]


APP = """
import os, sys, time
d = sys.argv[1]
for i in range({n}):
    open(os.path.join(d, f"f{{i}}"), "w").close()
open(os.path.join(d, "done"), "w").close()
time.sleep(600)
"""


async def test_sigkill_during_an_outage_then_restart_loses_nothing(tmp_path: Path) -> None:
    n = 2000
    port = free_port()
    work = tmp_path / "work"
    work.mkdir()
    buf = tmp_path / "buffer"
    cfg = tmp_path / "th.toml"
    cfg.write_text(
        f"""
[sinks.siem]
type = "webhook"
url = "http://127.0.0.1:{port}/ingest"
encoding = "ndjson"
inputs = ["events"]
buffer.type = "disk"
buffer.path = "{buf}"
buffer.max_size = {MEMORY_BOUND}
batch.timeout_secs = 0.05
request.retry_initial_backoff_secs = 0.01
request.retry_max_duration_secs = 0.2
"""
    )
    app = tmp_path / "app.py"
    app.write_text(APP.format(n=n))
    # 1: the SIEM is down; the app makes n events, the agent is killed with SIGKILL.
    agent = await anyio.open_process(
        [*AGENT, "run", "--config", str(cfg), "--", sys.executable, str(app), str(work)],
        stdout=None,
        stderr=open(tmp_path / "agent1.err", "wb"),  # noqa: SIM115
    )
    deadline = time.monotonic() + 60
    # Wait for the record of the last open: the log is in order, so every f<i> is on disk
    # before it. (A count of frames would not do: the interpreter's own opens are records
    # too, so n frames can be on disk while the last f<i> are still in the pipeline.)
    last = str(work / "done").encode()
    while not any(last in p for p in payloads(buf / "siem")):
        assert time.monotonic() < deadline, (tmp_path / "agent1.err").read_text()
        await anyio.sleep(0.1)
    os.kill(agent.pid, signal.SIGKILL)
    await agent.wait()
    assert agent.returncode == -signal.SIGKILL
    # 2: the SIEM is back; a new agent (same task, same directory) runs a short program.
    siem = Siem(port=port)
    await siem.start()
    try:
        result = await anyio.run_process(
            [*AGENT, "run", "--config", str(cfg), "--", "cat", str(work / "f0")], check=False
        )
    finally:
        await siem.stop()
    assert result.returncode == 0, result.stderr.decode()
    names = [r["output_fields"].get("fd.name") for r in siem.received]
    made = [f"{work}/f{i}" for i in range(n)]
    got = [x for x in names if x in set(made)]
    assert got[: len(made)] == made  # every one, in order, before anything new
    assert f"{work}/f0" in names[names.index(made[-1]) + 1 :]  # agent 2's cat comes after
    assert "records left by an earlier agent" in result.stderr.decode()
    assert "dropped=0" in result.stderr.decode()


def test_config_errors_name_key_line_and_value() -> None:
    text = """
[sinks.s]
type = "file"
path = "/tmp/x"
buffer.type = "disk"
buffer.max_disk_size = 10
"""
    with pytest.raises(ConfigError) as info:
        parse_config(text, "t.toml")
    issues = {i.path: (i.line, i.message) for i in info.value.issues}
    assert issues["sinks.s.buffer.max_disk_size"] == (6, "must be an integer >= 1048576, got 10")
    assert issues["sinks.s.buffer.path"][1] == 'is required with type = "disk", got none'
    with pytest.raises(ConfigError) as info:
        parse_config(text.replace('"disk"', '"tape"'), "t.toml")
    [issue] = [i for i in info.value.issues if i.path == "sinks.s.buffer.type"]
    assert issue.line == 5 and "tape" in issue.message


def test_log_across_segments_and_a_reopen_mid_segment(tmp_path: Path) -> None:
    """The file side alone: many segments (1 MiB bound: 128 KiB segments), half read and
    done, closed (as by a crash: no cursor beyond the last ack), reopened: the rest comes
    back in order, and done segments are deleted."""
    from tracehound.sinks.disk_buffer import DiskLog

    log = DiskLog(tmp_path, 1024 * 1024)
    assert log.open() == 0
    payloads = [b'{"n":%d,"pad":"%s"}' % (i, b"x" * 90) for i in range(6000)]  # ~650 KB
    for i in range(0, 6000, 250):
        assert log.append(payloads[i : i + 250]) == 250
    assert len(log.segments) >= 5 and log.pending == 6000
    got: list[bytes] = []
    while len(got) < 2500:
        batch, end = log.read(300, 1_000_000)
        log.ack(end, batch)
        got += batch
    first_segment_left = min(log.segments)
    log.close()  # no clean shutdown: only the cursor file says how far we got
    again = DiskLog(tmp_path, 1024 * 1024)
    assert again.open() == 0 and again.pending == 6000 - len(got)
    assert min(again.segments) == first_segment_left
    while again.pending:
        batch, end = again.read(1000, 1_000_000)
        again.ack(end, batch)
        got += batch
    assert got == payloads
    assert len(list(tmp_path.glob("*.seg"))) == 1 and again.size == 0

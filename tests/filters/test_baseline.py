"""Baseline: normalisation, learn/detect, persistence, and the show/merge commands."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import anyio
import pytest

from tracehound.filters.baseline import RULE_NAME, BaselineStore, normalize_path

from .conftest import connect_ev, exec_ev, make_chain, open_ev, proc, started

PY = proc("python3 app.py", exe="/usr/bin/python3.11", name="python3")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("/proc/1234/status", "/proc/99/status"),
        ("/var/cache/app/3f2a9c1e4b5d6e7f.bin", "/var/cache/app/0011aabbccddeeff.bin"),
        (
            "/data/123e4567-e89b-12d3-a456-426614174000.json",
            "/data/00000000-0000-0000-0000-000000000001.json",
        ),
        ("/tmp/tmpk3j2_a9x/out.txt", "/tmp/tmpzz81qq0b/out.txt"),
        ("/tmp/sedAbC9xY", "/tmp/sedQ1w2E3"),
        ("/app/logs/req-17.log", "/app/logs/req-4.log"),
        (
            "/repo/.git/objects/ab/cdef0123456789abcdef0123456789abcdef01",
            "/repo/.git/objects/3f/0123456789abcdef0123456789abcdef012345",
        ),
        ("/tmp/w/repo/.git/tdzqnai", "/tmp/w/repo/.git/tQ3xk9A"),  # git init's probe
    ],
)
def test_normalisation_merges_run_specific_parts(a: str, b: str) -> None:
    assert normalize_path(a) == normalize_path(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("/etc/passwd", "/etc/shadow"),
        ("/app/config.yaml", "/app/secret.yaml"),
        ("/usr/bin/sh", "/usr/bin/nc"),
        ("/repo/.git/config", "/repo/.git/tdzqnai"),
    ],
)
def test_normalisation_keeps_real_differences(a: str, b: str) -> None:
    assert normalize_path(a) != normalize_path(b)


def _workload(pid_base: int, extra: bool = False) -> list:
    app = proc("python3 app.py", exe="/usr/bin/python3.11", pid=pid_base)
    evs = [
        exec_ev(app),
        open_ev(app, f"/tmp/tmp{pid_base:08d}/cache-{pid_base}.json", "O_WRONLY|O_CREAT|O_TRUNC"),
        open_ev(app, f"/proc/{pid_base}/status"),
        connect_ev(app, "10.0.0.5", 5432),
        exec_ev(proc("tar czf /tmp/x.tgz /app/data", parent=app)),
    ]
    if extra:
        evs.append(connect_ev(app, "203.0.113.9", 8443))
    return evs


def _cfg(path: Path, mode: str) -> dict:
    return {"baseline": {"mode": mode, "file": str(path), "save_interval_secs": 0}}


async def test_learn_then_detect_across_runs(tmp_path: Path) -> None:
    bfile = tmp_path / "baseline.json"
    learn = make_chain(tmp_path, **_cfg(bfile, "learn"))
    async with started(learn):
        _, alerts = learn.process(_workload(100))
    assert alerts == [] and bfile.exists()
    assert learn.stats()["baseline_learned"] >= 4

    same = make_chain(tmp_path, **_cfg(bfile, "detect"))
    async with started(same):
        _, alerts = same.process(_workload(200))
    assert [a.output for a in alerts] == []

    extra = make_chain(tmp_path, **_cfg(bfile, "detect"))
    async with started(extra):
        _, alerts = extra.process(_workload(300, extra=True))
    assert [a.rule for a in alerts] == [RULE_NAME]
    assert "connected to 203.0.113.9:8443" in alerts[0].output
    assert alerts[0].priority == "Notice"
    assert "baseline" in alerts[0].tags


async def test_learning_is_saved_periodically_not_only_on_exit(tmp_path: Path) -> None:
    """An agent killed without a clean exit keeps what it learned up to the last save."""
    bfile = tmp_path / "baseline.json"
    learn = make_chain(tmp_path, baseline={"mode": "learn", "file": str(bfile),
                                           "save_interval_secs": 0.05})  # fmt: skip
    async with started(learn):
        learn.process(_workload(100))
        with anyio.fail_after(10):
            while not bfile.exists():
                await anyio.sleep(0.02)
        saved = json.loads(bfile.read_text())
    assert saved == json.loads(bfile.read_text())  # the exit save wrote the same baseline
    detect = make_chain(tmp_path, **_cfg(bfile, "detect"))
    async with started(detect):
        _, alerts = detect.process(_workload(200))
    assert alerts == []


def test_new_executable_reported_once() -> None:
    c = make_chain(baseline={"mode": "detect", "file": "/nonexistent/b.json"})
    c.baseline.store.add("/usr/bin/python3.11", "exec", "/usr/bin/ls")
    dropper = proc("/opt/x/miner", parent=PY)
    evs = [
        exec_ev(dropper),
        open_ev(dropper, "/opt/x/out", "O_WRONLY|O_CREAT"),
        connect_ev(dropper, "198.51.100.7", 8443),
        exec_ev(dropper),  # same thing again: no second alert
    ]
    _, alerts = c.process(evs)
    assert len(alerts) == 1 and "ran /opt/x/miner" in alerts[0].output


def test_learn_then_detect_switches_after_learn_secs() -> None:
    t0 = 1_000_000_000_000_000_000
    from tracehound.filters.chain import build_chain

    from .conftest import make_config

    c = build_chain(
        make_config(baseline={"mode": "learn-then-detect", "file": "x.json", "learn_secs": 10}),
        Path.cwd(),
        now_ns=t0,
    )
    early = connect_ev(PY, "10.0.0.1", 80)
    early.ts = t0 + 1
    late_known = connect_ev(PY, "10.0.0.1", 80)
    late_known.ts = t0 + 11 * 10**9
    late_new = connect_ev(PY, "10.0.0.2", 80)
    late_new.ts = t0 + 12 * 10**9
    _, alerts = c.process([early, late_known, late_new])
    assert len(alerts) == 1 and "10.0.0.2:80" in alerts[0].output


def _store(items: dict) -> BaselineStore:
    s = BaselineStore()
    for exe, kinds in items.items():
        for kind, vals in kinds.items():
            for v in vals:
                s.add(exe, kind, v)
    return s


def test_cli_show_and_merge(tmp_path: Path) -> None:
    a, b, out = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "m.json"
    a.write_bytes(_store({"/usr/bin/python3.11": {"connect": ["10.0.0.5:5432"]}}).dumps())
    b.write_bytes(
        _store(
            {"/usr/bin/python3.11": {"write": ["/app/x"]}, "/bin/sh": {"exec": ["/usr/bin/ls"]}}
        ).dumps()
    )
    r = subprocess.run(
        ["tracehound", "baseline", "merge", str(out), str(a), str(b)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["executables"]["/usr/bin/python3.11"] == {
        "connect": ["10.0.0.5:5432"],
        "write": ["/app/x"],
    }
    r = subprocess.run(
        ["tracehound", "baseline", "show", str(out)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert "2 executables, 3 items" in r.stdout
    assert "connects to" in r.stdout and "10.0.0.5:5432" in r.stdout

    (tmp_path / "bad.json").write_text('{"version": 2}')
    r = subprocess.run(
        ["tracehound", "baseline", "show", str(tmp_path / "bad.json")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 1 and "not a tracehound baseline" in r.stderr

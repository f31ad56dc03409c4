"""Falco fields against the truth: a real traced program reports its own view (its
/proc entries, pids, environment, sockets) and the alert's output_fields must agree."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent / "falco"
pytestmark = pytest.mark.slow

RULES = """\
- required_engine_version: 0.57.0
- macro: marker_open
  condition: evt.type in (open, openat) and fd.name endswith .marker and evt.dir = <
- rule: Marker opened
  desc: the program under test opened its marker file
  condition: marker_open and fd.num >= 0 and evt.res = SUCCESS
  output: >
    marker loginuid=%user.loginuid loginname=%user.loginname tty=%proc.tty vpid=%proc.vpid
    sid=%proc.sid vpgid=%proc.vpgid sname=%proc.sname pgl=%proc.is_vpgid_leader
    sidl=%proc.is_sid_leader dur=%proc.duration env=%proc.env[TH_MARK] envall=%proc.env
    ino=%proc.exe_ino ctime=%proc.exe_ino.ctime mtime=%proc.exe_ino.mtime
    ctd=%proc.exe_ino.ctime_duration_proc_start memfd=%proc.is_exe_from_memfd
    capeff=%thread.cap_effective capprm=%thread.cap_permitted cwd=%proc.cwd
    aexe=%proc.aexe[1] fdnum=%fd.num res=%evt.res rawres=%evt.rawres name=%evt.arg.name
    pname=%proc.pname user=%user.name
  priority: NOTICE
  tags: [test]
- rule: Marker open failed
  desc: a failed open, as Falco's open-failure macro sees it
  condition: >
    evt.type in (open, openat) and fd.typechar = 'f' and fd.num = -1 and evt.res startswith E
    and fd.name contains .marker.missing
  output: failed res=%evt.res rawres=%evt.rawres fdnum=%fd.num
  priority: NOTICE
- rule: Loopback connect
  desc: a connection the program makes to itself
  condition: >
    evt.type = connect and fd.connected = true and fd.name_changed = true
    and fd.net = "127.0.0.0/8" and not fd.snet in ("10.0.0.0/8") and fd.ip = 127.0.0.1
    and (evt.rawres >= 0 or evt.res = EINPROGRESS) and proc.name startswith python
  output: connect port=%fd.sport ip=%fd.sip
  priority: NOTICE
"""


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    if shutil.which("tracehound") is None:
        pytest.skip("tracehound is not installed")
    import subprocess

    tmp = tmp_path_factory.mktemp("fields")
    rules = tmp / "fields.yaml"
    rules.write_text(RULES)
    records = tmp / "records.jsonl"
    cfg = tmp / "th.toml"
    cfg.write_text(
        f"""
[tracer]
profile = "balanced"
capture_results = ["open", "openat", "connect"]
[filters.rules]
files = ["{rules}"]
rate_limit.rate = 0
[sinks.out]
type = "file"
path = "{records}"
inputs = ["alerts"]
"""
    )
    view_out = tmp / "view.json"
    # sh stays the parent (the trailing `true` stops it from exec'ing python in place).
    script = f"{sys.executable} {HERE / 'view.py'} {view_out} {tmp / 'x.marker'}; true"
    r = subprocess.run(
        ["tracehound", "run", "--config", str(cfg), "--", "/bin/sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp,
        env={**os.environ, "TH_MARK": "falco-fields-42"},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert view_out.exists(), f"view.py failed: {r.stderr[-2000:]}"
    alerts = [json.loads(x) for x in records.read_text().splitlines()]
    view = json.loads(view_out.read_text())
    by_rule: dict[str, Any] = {}
    for a in alerts:
        by_rule.setdefault(a["rule"], a)
    return view, by_rule


def _caps(mask: int) -> set[int]:
    return {bit for bit in range(64) if mask >> bit & 1}


# A few capability numbers from linux/capability.h, to check names against bits.
_KNOWN_CAPS = {0: "CAP_CHOWN", 7: "CAP_SETUID", 12: "CAP_NET_ADMIN", 19: "CAP_SYS_PTRACE",
               21: "CAP_SYS_ADMIN"}  # fmt: skip


def test_process_fields_match_the_programs_view(traced: tuple[dict[str, Any], Any]) -> None:
    view, by_rule = traced
    assert "Marker opened" in by_rule, sorted(by_rule)
    f = by_rule["Marker opened"]["output_fields"]
    assert f["user.loginuid"] == (-1 if view["loginuid"] == 0xFFFFFFFF else view["loginuid"])
    assert f["proc.tty"] == view["tty_nr"]
    assert f["proc.vpid"] == view["pid"]
    assert f["proc.sid"] == view["sid"] and f["proc.vpgid"] == view["pgrp"]
    assert f["proc.sname"] == view["sid_comm"]
    assert f["proc.is_vpgid_leader"] is (view["pgrp"] == view["pid"])
    assert f["proc.is_sid_leader"] is (view["sid"] == view["pid"])
    assert f["proc.env[TH_MARK]"] == view["env_mark"] == "falco-fields-42"
    assert "TH_MARK=falco-fields-42" in f["proc.env"].split(" ")
    assert f["proc.exe_ino"] == view["exe_ino"]
    assert f["proc.exe_ino.ctime"] == view["exe_ctime"]
    assert f["proc.exe_ino.mtime"] == view["exe_mtime"]
    assert f["proc.is_exe_from_memfd"] is False
    assert f["proc.cwd"] == view["cwd"].rstrip("/") + "/"  # Falco's trailing slash
    assert f["proc.aexe[1]"] == view["parent_argv0"] and f["proc.pname"] == "sh"
    for key, mask in (
        ("thread.cap_effective", view["cap_eff"]),
        ("thread.cap_permitted", view["cap_prm"]),
    ):
        names = f[key].split() if f[key] else []
        assert len(names) == len(_caps(mask)), (key, names)
        for bit, name in _KNOWN_CAPS.items():
            assert (name in names) == bool(mask >> bit & 1), (key, name)


def test_duration_is_the_process_age(traced: tuple[dict[str, Any], Any]) -> None:
    view, by_rule = traced
    f = by_rule["Marker opened"]["output_fields"]
    evt_time = f["evt.time"]
    # The process started (fork) before python's first line ran, and the open happened
    # between the program's two clock readings around it.
    start = evt_time - f["proc.duration"]
    assert view["t_start"] - 2_000_000_000 < start <= view["t_start"] + 20_000_000
    assert f["proc.duration"] >= view["t_open"] - view["t_start"] - 20_000_000
    start = evt_time - f["proc.duration"]
    assert f["proc.exe_ino.ctime_duration_proc_start"] == start - view["exe_ctime"]
    assert f"dur={f['proc.duration']} " in by_rule["Marker opened"]["output"]


def test_results_as_falco_writes_them(traced: tuple[dict[str, Any], Any]) -> None:
    view, by_rule = traced
    f = by_rule["Marker opened"]["output_fields"]
    assert f["fd.num"] == view["marker_fd"] == f["evt.rawres"]
    assert f["evt.res"] == "SUCCESS"
    assert f["evt.arg.name"].endswith("x.marker")
    failed = by_rule["Marker open failed"]["output_fields"]
    assert failed == {
        "evt.time": failed["evt.time"],
        "evt.res": "ENOENT",
        "evt.rawres": -2,
        "fd.num": -1,
    }


def test_connection_fields(traced: tuple[dict[str, Any], Any]) -> None:
    view, by_rule = traced
    assert "Loopback connect" in by_rule, sorted(by_rule)
    f = by_rule["Loopback connect"]["output_fields"]
    assert f["fd.sport"] == view["port"] and f["fd.sip"] == "127.0.0.1"


def test_alert_is_falcos_json_layout(traced: tuple[dict[str, Any], Any]) -> None:
    _, by_rule = traced
    a = by_rule["Marker opened"]
    assert set(a) == {"uuid", "output", "priority", "rule", "time", "output_fields", "source",
                      "tags", "hostname"}  # fmt: skip
    assert a["tags"] == ["test"] and a["priority"] == "Notice"
    hhmmss, _, rest = a["output"].partition(": ")
    assert len(hhmmss) == 18 and hhmmss[2] == ":" and hhmmss[8] == "."
    assert rest.startswith("Notice marker loginuid=")

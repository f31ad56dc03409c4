"""An attacker with code execution in the container, acted out by small C programs
on every backend and in the no-capability mode (a task without SYS_PTRACE): what
they try must not cost a record, blind the agent or silence it."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from th_support import AGENT, ALL_MODES, TracedRun, with_backend


@pytest.fixture(params=ALL_MODES)
def tracer_backend(request: pytest.FixtureRequest) -> str:
    """Every backend, and the agent without CAP_SYS_PTRACE."""
    return str(request.param)


FORGED = "00:00:00.000 Crit Forged alert: all clear"


def test_a_name_that_is_not_utf8_costs_no_other_record(
    run_traced: Callable[..., TracedRun], programs: dict[str, Path], tmp_path: Path
) -> None:
    """Before: the router dropped the whole batch (0 records, 0 alerts in 10 of 12 runs)."""
    done = run_traced([str(programs["badnames"]), str(tmp_path)])
    assert done.returncode == 0, done.stderr
    opens = {(e["fd.name"], e.get("evt.arg.flags")) for e in done.events("openat")}
    assert ("/etc/shadow", "O_RDONLY") in opens, opens
    assert ("/etc/passwd", "O_APPEND|O_WRONLY") in opens or (
        "/etc/passwd",
        "O_WRONLY|O_APPEND",
    ) in opens, opens
    bad = f"{tmp_path}/bad\\xff\\xfe\x1b[2Jname\nforged"
    assert (bad, "O_CREAT|O_TRUNC|O_WRONLY") in opens or any(n == bad for n, _ in opens), opens
    assert any(e["fd.name"] == bad for e in done.events("unlink")), done.events("unlink")
    rules = {a["rule"] for a in done.alerts()}
    assert "Read sensitive file by unexpected program" in rules, rules
    assert "Write below etc" in rules, rules
    stats = done.tracer_stats()
    assert stats["route_errors"] == 0 and stats["unencodable"] == 0, stats
    assert stats["dropped"] == 0, stats


def test_the_readable_console_escapes_what_could_forge_a_line(
    programs: dict[str, Path], tmp_path: Path, tracer_backend: str
) -> None:
    """An argument with a newline and a terminal escape, shown in an alert's output."""
    config, prefix = with_backend(
        '[sinks.console]\ntype = "console"\nformat = "readable"\n', tracer_backend
    )
    cfg = tmp_path / "t.toml"
    cfg.write_text(config)
    argv = [str(tmp_path), f"x\n{FORGED}\x1b[2J"]
    done = subprocess.run(
        [*prefix, *AGENT, "run", "--config", str(cfg), "--", str(programs["badnames"]), *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    shadow = [x for x in lines if "Sensitive file /etc/shadow" in x]
    assert len(shadow) == 1, done.stderr
    assert f"x\\x0a{FORGED}\\x1b[2J" in shadow[0]
    assert not any(x.startswith(FORGED) for x in lines), done.stderr
    assert "\x1b" not in done.stderr

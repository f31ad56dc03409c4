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


def _said(stdout: str) -> dict[str, int]:
    """The attack programs print name=value lines."""
    pairs = (line.split("=", 1) for line in stdout.splitlines() if "=" in line)
    return {k: int(v) for k, v in pairs}


def _rules(done: TracedRun) -> list[str]:
    return [a["rule"] for a in done.alerts()]


TAMPER = "Attempt to silence or patch the agent"
EPERM, EACCES, EBUSY, ENOSYS = 1, 13, 16, 38


def test_the_agent_cannot_be_killed_stopped_or_patched(
    run_traced: Callable[..., TracedRun], programs: dict[str, Path], tracer_backend: str
) -> None:
    """kill -9 / SIGSTOP of the agent right after reading /etc/shadow (before: 0 records
    on every backend), its process group, one of its threads, pidfds, ptrace, its memory:
    each refused and alerted, and the read of /etc/shadow delivered."""
    done = run_traced([str(programs["tamper"])])
    assert done.returncode == 0, done.stderr
    said = _said(done.stdout)
    assert "survived" in done.stdout and said["thread_is_other"] == 1, done.stdout
    refused = ["kill_KILL", "kill_STOP", "kill_group", "kill_all", "tkill_thread", "tgkill",
               "pidfd_open", "pidfd_send_signal", "vm_readv", "vm_writev"]  # fmt: skip
    ptrace_calls = ["ptrace_attach", "ptrace_seize_thread"]
    if "kill_group" not in said:  # the agent's process group is 0 (a bare VM's init)
        refused.remove("kill_group")
    for name in refused + ptrace_calls:
        assert said[name] == EPERM, (name, done.stdout)
    # The agent is not dumpable and the application lost CAP_SYS_PTRACE.
    assert said["open_mem"] in (EPERM, EACCES), done.stdout
    assert said["read_mem"] in (EPERM, EACCES), done.stdout
    assert said["sys_ptrace"] == 0 and said["own_group"] == 1, done.stdout
    rules = _rules(done)
    # Without SYS_PTRACE the environment's seccomp profile refuses ptrace before us.
    expected = len(refused) + (0 if tracer_backend in ("notify_no_ptrace", "notify_nocap") else 2)
    assert rules.count(TAMPER) == expected, rules
    assert "Process memory opened for writing" in rules, rules
    assert "Process memory opened for reading" in rules, rules
    assert "Read sensitive file by unexpected program" in rules, rules
    alert = next(a for a in done.alerts() if a["rule"] == TAMPER)
    assert alert["priority"] == "Critical"
    kills = [e for e in done.events("kill") if e.get("evt.arg.sig") == 9]
    assert kills and all(e["evt.res"] == -EPERM for e in kills), kills


def test_an_own_seccomp_listener_is_refused_and_alerted(
    run_traced: Callable[..., TracedRun], programs: dict[str, Path]
) -> None:
    """Before, on backend ptrace: 0 of 3 actions recorded behind the app's listener."""
    done = run_traced([str(programs["listener"])])
    assert done.returncode == 0, done.stderr
    assert _said(done.stdout)["listener"] == EBUSY, done.stdout
    assert "Seccomp listener requested by the application" in _rules(done)
    assert any(e["fd.name"] == "/etc/shadow" for e in done.events("openat"))


@pytest.mark.parametrize("io_uring", ["alert", "deny"])
def test_io_uring_is_alerted_or_refused(
    run_traced: Callable[..., TracedRun], programs: dict[str, Path], io_uring: str
) -> None:
    done = run_traced([str(programs["uring"])], config=f'[tracer]\nio_uring = "{io_uring}"\n')
    assert done.returncode == 0, done.stderr
    made = _said(done.stdout)["uring"]
    if io_uring == "deny":
        assert made == EPERM, done.stdout
    elif Path("/proc/sys/kernel/io_uring_disabled").exists():
        assert made == 0 or Path("/proc/sys/kernel/io_uring_disabled").read_text() != "0\n"
    setups = done.events("io_uring_setup")
    assert len(setups) == 1, setups
    assert (setups[0].get("evt.res") == -EPERM) == (io_uring == "deny"), setups
    assert "io_uring ring created" in _rules(done)


def test_a_clone_untraced_child_is_traced_and_alerted(
    run_traced: Callable[..., TracedRun], programs: dict[str, Path], tracer_backend: str
) -> None:
    """Before: on ptrace the child got ENOSYS for every traced syscall (exit 99); on
    seccomp_notify its open was attributed to the wrong program."""
    done = run_traced([str(programs["untraced"])])
    assert done.returncode == 0, (done.stdout, done.stderr)
    said = _said(done.stdout)
    with_ptrace = tracer_backend in ("ptrace", "seccomp_notify")
    assert said["clone3"] == (ENOSYS if with_ptrace else 0), done.stdout
    reads = [e for e in done.events("openat") if e["fd.name"] == "/etc/shadow"]
    assert [e["proc.pid"] for e in reads] == [said["child"]], reads
    assert reads[0]["proc.name"] == "untraced", reads
    if with_ptrace:
        assert "Clone hidden from the tracer" in _rules(done)


@pytest.mark.parametrize("how", ["dumpable", "uid"])
def test_a_process_the_agent_may_not_read_is_loud(
    run_traced: Callable[..., TracedRun],
    programs: dict[str, Path],
    tracer_backend: str,
    how: str,
    tmp_path: Path,
) -> None:
    """Without SYS_PTRACE, prctl(PR_SET_DUMPABLE, 0) or a real-uid change leaves every
    path <unreadable>: before, no alert although the process read /etc/shadow as root.
    user.uid follows a setuid without ptrace too."""
    target = tmp_path / "after-setuid"
    target.write_text("x")
    done = run_traced([str(programs["unreadable"]), how, str(target)])
    assert done.returncode == 0, (done.stdout, done.stderr)
    rules = _rules(done)
    if how == "dumpable":
        assert "Process made itself unreadable" in rules, rules
    opens = done.events("openat")
    seen = [(e["fd.name"], e["proc.name"], e["user.uid"]) for e in opens]
    if tracer_backend == "notify_nocap":
        assert "Syscall argument unreadable by the agent" in rules, rules
        blind = [e for e in opens if e["fd.name"] == "<unreadable>"]
        assert len(blind) >= 2 and blind[-1]["user.uid"] == 1000, seen
    else:  # with CAP_SYS_PTRACE the agent reads it all
        assert any(e["fd.name"] == "/etc/shadow" for e in opens), seen
        after = [e for e in opens if e["fd.name"] == str(target)]
        assert after and after[-1]["user.uid"] == 1000, seen


def test_the_core_refuses_sizes_it_could_not_allocate() -> None:
    """Before: tracer.arg_max_bytes = 2**63-1 validated and every path read
    <unreadable> (an unchecked allocation). The config bounds it; so does the core."""
    from tracehound.agent.tracer.backend import core

    filt = bytes(8)  # one sock_filter
    for argv_max, arg_max in ((64, 2**62), (2**40, 4096)):
        with pytest.raises((ValueError, MemoryError)):
            core().Core(filt, [], False, True, False, argv_max, arg_max, 10, 1 << 20, False)

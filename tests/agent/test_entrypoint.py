"""The entrypoint wrapper: exit status, signals, orphans, terminal, bad input."""

from __future__ import annotations

import os
import pty
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from th_support import AGENT, with_backend, write_config


def agent(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AGENT, *args], capture_output=True, text=True, timeout=60, **kw)


@pytest.mark.parametrize(("script", "status"), [("exit 0", 0), ("exit 7", 7), ("exit 255", 255)])
def test_exit_code_is_the_applications(run_traced, script: str, status: int) -> None:
    assert run_traced(["sh", "-c", script]).returncode == status


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGSEGV])
def test_killed_by_signal_exits_128_plus_n(run_traced, sig: int) -> None:
    res = run_traced(["sh", "-c", f"kill -{int(sig)} $$"])
    assert res.returncode == 128 + sig


def test_program_not_found_exits_127(tmp_path: Path) -> None:
    res = agent("run", "--", "no-such-program-tracehound")
    assert res.returncode == 127
    assert res.stderr.strip().splitlines() == [
        "tracehound: no-such-program-tracehound: command not found"
    ]
    res = agent("run", "--", str(tmp_path / "missing"))
    assert res.returncode == 127
    assert "No such file or directory" in res.stderr


def test_not_executable_exits_126(tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    res = agent("run", "--", str(script))
    assert res.returncode == 126
    assert res.stderr.strip() == f"tracehound: {script}: Permission denied"
    assert agent("run", "--", str(tmp_path)).returncode == 126  # a directory


def test_exec_format_error_exits_126(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x7fELF garbage")
    junk.chmod(0o755)
    res = agent("run", "--", str(junk))
    assert res.returncode == 126
    assert "Exec format error" in res.stderr


def test_no_command_is_a_usage_error() -> None:
    for args in (["run"], ["run", "--"]):
        res = agent(*args)
        assert res.returncode == 2
        assert "usage:" in res.stderr


def test_invalid_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[agent]\nshutdown_timeout_secs = 5\n\n[tracer]\nprofile = "fastest"\n')
    res = agent("run", "--config", str(cfg), "--", "true")
    assert res.returncode == 2
    assert "tracer.profile (line 5)" in res.stderr


def test_stdin_and_stdout_are_inherited() -> None:
    proc = subprocess.run(
        [*AGENT, "run", "--", "sh", "-c", "read x; echo got $x"],
        input="hello\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert proc.returncode == 0
    assert "got hello" in proc.stdout.splitlines()


def test_terminal_is_inherited(tmp_path: Path) -> None:
    """The application sees the agent's terminal as its own controlling tty."""
    main, sub = pty.openpty()
    out = tmp_path / "tty.txt"
    try:
        proc = subprocess.Popen(
            [*AGENT, "run", "--", "sh", "-c", f"tty > {out}; test -t 0 && test -t 1"],
            stdin=sub,
            stdout=sub,
            stderr=subprocess.DEVNULL,
        )
        assert proc.wait(timeout=60) == 0
        assert out.read_text().strip() == os.ttyname(sub)
    finally:
        os.close(main)
        os.close(sub)


def _read_line(proc: subprocess.Popen[str], timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            return line.strip()
    raise AssertionError("no output from the application")


def _agent_cmd(tmp: Path, backend: str, argv: list[str]) -> list[str]:
    """`tracehound run` on `backend`, records to a file so stdout is the application's."""
    config, prefix = with_backend("", backend)
    cfg = write_config(tmp / "cfg.toml", tmp / "r.jsonl", config)
    return [*prefix, *AGENT, "run", "--config", str(cfg), "--", *argv]


def test_signals_are_forwarded(
    programs: dict[str, Path], tmp_path: Path, tracer_backend: str
) -> None:
    proc = subprocess.Popen(
        _agent_cmd(tmp_path, tracer_backend, [str(programs["sigtest"])]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _read_line(proc) == "ready"
        for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1,
                    signal.SIGUSR2, signal.SIGWINCH, signal.SIGTERM):  # fmt: skip
            proc.send_signal(sig)
            assert _read_line(proc) == f"got {int(sig)}"
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()


def _children(pid: int) -> list[int]:
    """Children of every thread of `pid` (the tracer thread forks the application)."""
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_orphans_are_reaped(tmp_path: Path, tracer_backend: str) -> None:
    """A grandchild orphaned by its parent is re-parented to the agent and reaped."""
    marker = tmp_path / "orphan.pid"
    script = f"(sleep 1 & echo $! > {marker}); sleep 4"
    proc = subprocess.Popen(
        _agent_cmd(tmp_path, tracer_backend, ["sh", "-c", script]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() or not marker.read_text().strip():
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError(f"no orphan started: {proc.communicate()[1]!r}")
            time.sleep(0.02)
        orphan = int(marker.read_text())
        # While it lives, the orphan's parent is the agent (child subreaper / PID 1),
        # once its own parent (the subshell) is gone: on a slow machine (an emulated
        # guest, scripts/kernel-tests) that takes a moment after the marker appears.
        deadline = time.monotonic() + 10
        while orphan not in _children(proc.pid) and os.path.exists(f"/proc/{orphan}"):
            assert time.monotonic() < deadline, f"orphan {orphan} not re-parented to the agent"
            time.sleep(0.02)
        # Once it exits it must be reaped: a zombie would keep /proc/PID around.
        deadline = time.monotonic() + 15
        while os.path.exists(f"/proc/{orphan}"):
            assert time.monotonic() < deadline, f"orphan {orphan} not reaped: {_state(orphan)}"
            time.sleep(0.05)
        assert proc.poll() is None, "the application (sleep 4) should still be running"
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()


def test_sigstop_and_sigcont_behave_as_untraced(tmp_path: Path, tracer_backend: str) -> None:
    counter = tmp_path / "count"
    script = f"i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo $i > {counter}; sleep 0.05; done"
    proc = subprocess.Popen(
        _agent_cmd(tmp_path, tracer_backend, ["sh", "-c", script]), stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while not _children(proc.pid) or not counter.exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        app = _children(proc.pid)[0]
        os.kill(app, signal.SIGSTOP)
        time.sleep(0.3)
        frozen = counter.read_text()
        time.sleep(0.4)
        assert counter.read_text() == frozen, "the application kept running after SIGSTOP"
        assert _state(app) in ("T", "t")
        os.kill(app, signal.SIGCONT)
        assert proc.wait(timeout=30) == 0
        assert counter.read_text().strip() == "40"
    finally:
        proc.kill()
        proc.wait()


def test_exec_from_thread_and_vfork(run_traced, programs: dict[str, Path]) -> None:
    res = run_traced([str(programs["threadexec"])])
    assert res.returncode == 0, res.stderr
    assert "from-thread" in res.stdout
    execs = res.events("execve")
    main = execs[0]
    assert main["proc.name"] == "threadexec"
    by_path = {e["fd.name"]: e for e in execs}
    assert by_path["/bin/true"]["proc.ppid"] == main["proc.pid"]
    assert by_path["/bin/true"]["proc.cmdline"] == "true vforked"
    echo = by_path["/bin/echo"]
    assert echo["proc.pid"] == main["proc.pid"]  # a thread's exec keeps the process id
    assert echo["proc.name"] == "echo"
    assert echo["proc.exepath"] == os.path.realpath("/bin/echo")


def test_exec_from_a_thread_while_the_leader_keeps_stopping(
    run_traced, programs: dict[str, Path]
) -> None:
    """The leader opens files in a loop while another thread execs: its stops that
    come before the kernel replaced the program (without ptrace /proc still shows
    the old one then) must not settle the exec as failed or name it after the old
    program."""
    res = run_traced([str(programs["busyexec"])])
    assert res.returncode == 0, res.stderr
    assert res.stdout == "from-busy-thread\n"
    execs = {e["fd.name"]: e for e in res.events("execve")}
    echo = execs["/bin/echo"]
    assert echo["proc.name"] == "echo" and echo["evt.res"] == 0, echo
    assert "evt.failed" not in echo
    assert echo["proc.pid"] == execs[str(programs["busyexec"])]["proc.pid"]
    # the leader's opens are the old program's; the loop ran while the thread waited
    opens = [e for e in res.events("openat") if e["fd.name"] == "/dev/null"]
    assert opens and {e["proc.name"] for e in opens} == {"busyexec"}


def test_a_script_exec_succeeds_on_every_backend(run_traced, tmp_path: Path) -> None:
    """A #! script: the kernel runs its interpreter with the script's path, so
    without ptrace /proc shows more argv words than the execve passed."""
    script = tmp_path / "hello.sh"
    script.write_text("#!/bin/sh\nexec cat /etc/hostname\n")
    script.chmod(0o755)
    res = run_traced(["sh", "-c", "./hello.sh one two; true"])
    assert res.returncode == 0, res.stderr
    run = next(e for e in res.events("execve") if e["fd.name"] == str(script))
    assert run["evt.res"] == 0 and "evt.failed" not in run, run
    assert run["proc.name"] == "hello.sh"
    assert run["proc.cmdline"] == "hello.sh one two"
    # sh looks cat up along PATH: the misses are failed execs, then cat runs
    cats = [e for e in res.events("execve") if e["fd.name"].endswith("/cat")]
    assert [e.get("evt.failed", False) for e in cats][-1] is False, cats
    assert all(e["proc.name"] == "hello.sh" for e in cats[:-1])
    assert cats[-1]["proc.pid"] == run["proc.pid"] and cats[-1]["proc.name"] == "cat"


def test_x32_and_unknown_syscalls_are_traced(run_traced, programs: dict[str, Path]) -> None:
    res = run_traced([str(programs["x32open"])])
    assert res.returncode == 0, res.stderr
    opens = [e for e in res.events("openat") if e["fd.name"] == "/etc/x32-probe"]
    assert len(opens) == 1
    unknown = res.events("syscall_1000")
    assert len(unknown) == 1 and unknown[0]["evt.args"][:3] == ["0x1", "0x2", "0x3"]


def test_minimal_profile_stops_only_for_writes(run_traced, tmp_path: Path) -> None:
    res = run_traced(
        ["sh", "-c", "cat /etc/hostname > out.txt"], config='[tracer]\nprofile = "minimal"\n'
    )
    assert res.returncode == 0
    opened = {e["fd.name"] for e in res.events("openat")}
    assert str(tmp_path / "out.txt") in opened
    assert "/etc/hostname" not in opened  # read-only opens never stop the tracee


def test_events_carry_process_fields(run_traced, tmp_path: Path) -> None:
    res = run_traced(["sh", "-c", "cat /etc/hostname > /dev/null"])
    cat_open = next(e for e in res.events("openat") if e["fd.name"] == "/etc/hostname")
    assert cat_open["proc.name"] == "cat"
    assert cat_open["proc.cmdline"] == "cat /etc/hostname"
    assert cat_open["proc.pname"] == "sh"
    assert cat_open["proc.exepath"] == os.path.realpath("/bin/cat")
    assert cat_open["user.uid"] == os.getuid()
    assert cat_open["evt.arg.flags"] == "O_RDONLY"
    assert cat_open["proc.cwd"] == str(tmp_path)


def test_console_script_is_the_module_entry_point() -> None:
    """The installed `tracehound` command and `python -m tracehound.agent.cli` are one program."""
    script = shutil.which("tracehound")
    assert script is not None, "the console script is not installed"
    via_script = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    via_module = agent("--help")
    assert via_script.returncode == via_module.returncode == 0
    assert via_script.stdout == via_module.stdout

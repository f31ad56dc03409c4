"""The capture core's backends: the choice `auto` makes and says, what happens when
the core is missing or the agent dies, and Go's preemption signals on each backend."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from th_support import AGENT, with_backend, write_config

from tracehound.agent.tracer.backend import (
    FEATURES_OFF_ENV,
    BackendUnavailable,
    Features,
    choose,
    probe,
)

REPO = Path(__file__).resolve().parents[2]
GOROUT = REPO / "bench" / "workloads" / "gorout"


def test_choice_follows_the_features() -> None:
    fast = Features(notify=True, sync_wakeup=True, ptrace_errno=0)
    assert choose("auto", fast).name == "seccomp_notify" and choose("auto", fast).ptrace
    old_kernel = Features(notify=True, sync_wakeup=False, ptrace_errno=0)
    assert choose("auto", old_kernel).name == "ptrace"
    assert "SYNC_WAKE_UP" in choose("auto", old_kernel).reason
    no_ptrace = Features(notify=True, sync_wakeup=False, ptrace_errno=1)
    b = choose("auto", no_ptrace)
    assert (b.name, b.ptrace) == ("seccomp_notify", False) and "EPERM" in b.reason
    with pytest.raises(BackendUnavailable, match="ptrace is not permitted"):
        choose("ptrace", no_ptrace)
    with pytest.raises(BackendUnavailable, match="user notification does not work"):
        choose("seccomp_notify", Features(notify=False, sync_wakeup=False, ptrace_errno=0))


def _kernel() -> tuple[int, int]:
    major, minor = os.uname().release.split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()))


# What `auto` says: SYNC_WAKE_UP from 6.6 on; before (Fargate's 5.10, under
# scripts/kernel-tests) ptrace is as fast, so it is chosen.
AUTO_SAYS = (
    "tracer backend seccomp_notify, same-CPU hand-off: the kernel hands"
    if _kernel() >= (6, 6)
    else "tracer backend ptrace: seccomp user notification cannot hand over on the same CPU"
)


def test_this_machine_has_what_the_fast_path_needs() -> None:
    """The probes: notify (with SYNC_WAKE_UP on 6.6+), and ptrace (root)."""
    f = probe()
    assert f.notify and f.ptrace
    assert f.sync_wakeup == (_kernel() >= (6, 6))


@pytest.mark.parametrize(
    ("backend", "said"),
    [
        (None, AUTO_SAYS),
        ("ptrace", "tracer backend ptrace: requested"),
        ("notify_no_ptrace", "ptrace is not permitted (EPERM): /proc does"),
    ],
)
def test_the_agent_says_which_backend_and_why(
    tmp_path: Path, backend: str | None, said: str
) -> None:
    config, prefix = with_backend("", backend)
    done = _agent(prefix, config, ["true"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert said in done.stderr


def _agent(
    prefix: list[str], config: str, argv: list[str], tmp: Path
) -> subprocess.CompletedProcess[str]:
    cfg = write_config(tmp / "th-backend.toml", tmp / "th-backend.jsonl", config)
    return subprocess.run(
        [*prefix, *AGENT, "run", "--config", str(cfg), "--", *argv],
        capture_output=True,
        text=True,
        timeout=300,  # an emulated guest (scripts/kernel-tests) starts Python slowly
    )


def test_a_missing_core_is_a_clear_error_never_a_slower_agent(tmp_path: Path) -> None:
    # As if the C extension had not been built: importing it fails.
    code = (
        "import sys; sys.modules['tracehound.agent.tracer._core'] = None\n"
        "from tracehound.agent.cli import main\n"
        "sys.exit(main(['run', '--', 'true']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 1
    assert "the capture core is not built" in done.stderr
    assert "pip install ." in done.stderr


def _children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@pytest.mark.parametrize("moment", ["first_child", "application_running"])
def test_the_application_dies_with_the_agent(
    tmp_path: Path, tracer_backend: str, moment: str
) -> None:
    """Never run on unobserved: SIGKILL the agent, the application goes too. Killed the
    moment a child exists (a probe's or the application's: fork to prctl is the window
    die_with() closes), or once the application runs; every child must go."""
    config, prefix = with_backend("", tracer_backend)
    cfg = write_config(tmp_path / "c.toml", tmp_path / "r.jsonl", config)
    agent = subprocess.Popen(
        [*prefix, *AGENT, "run", "--config", str(cfg), "--", "sleep", "300"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def ready(children: list[int]) -> bool:
        if moment == "first_child":
            return bool(children)
        return any(_comm(c) == "sleep" for c in children)

    # Generous: under scripts/kernel-tests (an emulated guest) Python starts slowly.
    deadline = time.monotonic() + 180
    while not ready(apps := _children_of(agent.pid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ready(apps), "the application never started"
    agent.send_signal(signal.SIGKILL)
    agent.wait(10)
    deadline = time.monotonic() + 10
    while (alive := [p for p in apps if _running(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive, f"children of the agent still running: {[(p, _comm(p)) for p in alive]}"


def _running(pid: int) -> bool:
    """Alive and not a zombie (one re-parented to init counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _speculation(status: str) -> list[str]:
    return [line for line in status.splitlines() if line.startswith("Speculation")]


def test_the_application_keeps_its_speculation_controls(run_traced) -> None:
    """A seccomp filter installed without SECCOMP_FILTER_FLAG_SPEC_ALLOW turns on
    Speculative Store Bypass Disable for the task before Linux 5.16 (the default
    spec_store_bypass_disable=seccomp, so on Fargate's 5.10), where the CPU offers it:
    the application would run slower than without tracehound. On a CPU without SSBD
    (this machine says "vulnerable" either way) the two lines are equal regardless."""
    native = subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True)
    res = run_traced(["cat", "/proc/self/status"])
    assert res.returncode == 0, res.stderr
    assert _speculation(res.stdout) == _speculation(native.stdout)
    assert _speculation(native.stdout), native.stdout  # the kernel reports the line


@pytest.fixture(scope="module")
def gorout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.fail("go is required (golang-go, installed by .ci/run)")
    out = tmp_path_factory.mktemp("go")
    env = {**os.environ, "GOCACHE": str(out / "cache"), "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    subprocess.run([go, "build", "-o", str(out / "gorout"), "."], cwd=GOROUT, env=env, check=True)
    return out / "gorout"


def test_go_preemption_loses_and_doubles_nothing(
    run_traced, tracer_backend: str, gorout: Path, tmp_path: Path
) -> None:
    """Goroutines preempted by SIGURG while they open files: every open seen once."""
    data = tmp_path / "d"
    data.mkdir()
    for i in range(16):
        (data / f"f{i}").write_text("x")
    goroutines, per = 8, 40
    res = run_traced([str(gorout), str(data), str(goroutines), str(per)])
    assert res.returncode == 0, res.stderr
    opens = [e for e in res.events("openat") if str(e.get("fd.name", "")).startswith(str(data))]
    assert len(opens) == goroutines * per
    assert res.tracer_stats()["dropped"] == 0


def test_follow_placement_keeps_every_event(run_traced, tracer_backend: str, programs) -> None:
    """ptrace_placement = "follow" moves the tracer thread between CPUs mid-run: no
    stop may be lost or doubled while it does (16 threads opening files)."""
    if tracer_backend != "ptrace":
        pytest.skip("a placement of the ptrace backend")
    res = run_traced([str(programs["threads"])], config='[tracer]\nptrace_placement = "follow"\n')
    assert res.returncode == 0, res.stderr
    plain = run_traced([str(programs["threads"])])
    key = "fd.name"
    assert sorted(str(e.get(key)) for e in res.events("openat")) == sorted(
        str(e.get(key)) for e in plain.events("openat")
    )
    assert res.tracer_stats()["dropped"] == 0


def test_connect_from_a_thread_has_its_protocol(run_traced, tmp_path: Path) -> None:
    """The socket of a non-leader thread is looked up too (pidfd of a thread)."""
    script = tmp_path / "threadconnect.py"
    script.write_text(
        "import socket, threading\n"
        "srv = socket.create_server(('127.0.0.1', 0))\n"
        "def go():\n"
        "    socket.create_connection(srv.getsockname()).close()\n"
        "t = threading.Thread(target=go); t.start(); t.join()\n"
    )
    res = run_traced([sys.executable, str(script)])
    assert res.returncode == 0, res.stderr
    (conn,) = [e for e in res.events("connect") if e.get("fd.sip") == "127.0.0.1"]
    assert conn["thread.tid"] != conn["proc.pid"]  # made by the thread
    assert conn["fd.l4proto"] == "tcp"


# --- the Fargate kernel, by masking the features it lacks ------------------------


def test_masked_features_are_reported_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FEATURES_OFF_ENV, "sync_wakeup, wait_killable_recv,ptrace")
    f = probe()
    assert f.notify and not f.sync_wakeup and not f.killable_recv and not f.ptrace
    assert f.masked == ("sync_wakeup", "wait_killable_recv", "ptrace")
    monkeypatch.setenv(FEATURES_OFF_ENV, "sync_wakeup,io_uring")
    with pytest.raises(BackendUnavailable, match="unknown feature 'io_uring'"):
        probe()


@pytest.mark.parametrize(
    ("off", "backend", "why"),
    [
        ("sync_wakeup,wait_killable_recv", "ptrace", "no SYNC_WAKE_UP before Linux 6.6"),
        ("ptrace", "seccomp_notify", "ptrace is not permitted (EPERM): /proc does"),
        ("sync_wakeup,wait_killable_recv,ptrace", "seccomp_notify", "ptrace is not permitted"),
    ],
    ids=["fargate", "no-sys-ptrace", "fargate-no-sys-ptrace"],
)
def test_auto_chooses_as_on_a_kernel_without_the_masked_features(
    tmp_path: Path, programs: dict[str, Path], off: str, backend: str, why: str
) -> None:
    """The choice, the reason with what was masked, and the run: every child's open."""
    cfg = write_config(tmp_path / "c.toml", tmp_path / "r.jsonl", "")
    done = subprocess.run(
        [*AGENT, "run", "--config", str(cfg), "--", str(programs["forks"]), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,  # an emulated guest (scripts/kernel-tests) starts Python slowly
        env={**os.environ, FEATURES_OFF_ENV: off},
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stderr.splitlines() if "tracer backend" in x)
    assert f"tracer backend {backend}" in line and why in line, line
    masked = ", ".join(n.strip() for n in off.split(","))
    assert f"[{FEATURES_OFF_ENV}: {masked} reported missing]" in line
    assert ("same-CPU hand-off" in line) == (backend == "seccomp_notify" and _kernel() >= (6, 6)
                                            and "sync_wakeup" not in off)  # fmt: skip
    records = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    opened = {
        f["fd.name"]
        for r in records
        if "rule" not in r and (f := r["output_fields"])["evt.type"] == "openat"
    }
    assert {str(tmp_path / f"child-{i}") for i in range(200)} <= opened


def test_an_unknown_masked_feature_is_a_clear_error(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", tmp_path / "r.jsonl", "")
    done = subprocess.run(
        [*AGENT, "run", "--config", str(cfg), "--", "true"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, FEATURES_OFF_ENV: "sync_wakup"},
    )
    assert done.returncode == 1
    assert "unknown feature 'sync_wakup' (known: sync_wakeup, wait_killable_recv, ptrace)" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr

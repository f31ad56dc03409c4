"""Processes entered into the container from outside the application (ECS Exec, docker
exec), on every backend.

The agent runs as PID 1 of its own pid namespace (`unshare -p -f --mount-proc`), as it
does as a container's entrypoint; the test then enters that namespace from outside with
`nsenter` and runs a shell with a few commands, as the SSM agent does for ECS Exec. The
shell and what it runs must be recorded, tagged outside_tree, and the default rule for
a shell from outside must fire. With ptrace the shell is followed from the moment it is
found, so even `id` (a millisecond) is seen; without ptrace only what lives longer than
the scan interval (0.1 s) is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from th_support import AGENT, with_backend

# The application: says it runs (the agent is up, its scanner too), waits to be stopped.
APP = (
    "import os, sys, time\nopen(sys.argv[1] + '.ready', 'w').close()\n"
    "while not os.path.exists(sys.argv[1]):\n    time.sleep(0.02)\n"
)
# What the intruder runs: sleeps make the no-ptrace scan (0.1 s) see the shell and `sleep`.
# It reads /etc/shadow and connects to a mining-pool port (UDP: no listener needed), as
# the application's own processes would be caught doing.
CONNECT = (
    "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
    "s.connect(('127.0.0.1', 3333))"
)
INTRUDER = (
    "sleep 0.5; id > /dev/null; uname -a > /dev/null; cat /etc/shadow > /dev/null; "
    f'{sys.executable} -c "{CONNECT}"; sleep 0.6'
)


def _ns(stamp: str) -> int:
    """A record's "time" ("2026-11-30T17:29:23.863148008Z") in ns since the epoch."""
    base, frac = stamp.rstrip("Z").split(".")
    secs = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return int(secs.timestamp()) * 10**9 + int(frac.ljust(9, "0")[:9])


def _agent_pid(unshare: subprocess.Popen[str]) -> int:
    """The agent: unshare's child, PID 1 inside the namespace."""
    path = Path(f"/proc/{unshare.pid}/task/{unshare.pid}/children")
    for _ in range(200):
        kids = path.read_text().split() if path.exists() else []
        if kids:
            return int(kids[0])
        time.sleep(0.02)
    raise AssertionError("unshare started no child")


def _wait_for(path: Path) -> None:
    for _ in range(6000):  # 120 s: the emulated 5.10 VM starts Python slowly
        if path.exists():
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared: the agent did not start the application")


def run_with_intruder(
    tmp: Path,
    backend: str,
    *,
    rules: list[str] | None = None,
    enter: list[str] | None = None,
    env: dict[str, str] | None = None,
    tracer: str = "",
) -> tuple[list[dict[str, Any]], int, str]:
    """enter: the command that enters the namespaces, "{pid}" standing for the agent's
    (default: nsenter running INTRUDER); rules: the rule files (default: the default's)."""
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        pytest.fail("unshare and nsenter are required (util-linux)")
    records = tmp / "records.jsonl"
    stop = tmp / "stop"
    config, prefix = with_backend(f"[tracer]\n{tracer}\n" if tracer else "", backend)
    cfg = tmp / "th.toml"
    files = f"[filters.rules]\nfiles = {json.dumps(rules)}\n" if rules else ""
    cfg.write_text(f'{config}\n{files}[sinks.out]\ntype = "file"\npath = "{records}"\n'
                   'inputs = ["events", "alerts"]\n')  # fmt: skip
    cmd = ["unshare", "-p", "-f", "--mount-proc", *prefix, *AGENT, "run", "--config", str(cfg)]
    agent_proc = subprocess.Popen(
        [*cmd, "--", sys.executable, "-c", APP, str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        agent = _agent_pid(agent_proc)
        _wait_for(Path(f"{stop}.ready"))
        time.sleep(0.3)  # the scanner has run at least once
        entered = time.time_ns()
        into = ["nsenter", "-t", "{pid}", "-p", "-m", "/bin/sh", "-c", INTRUDER]
        subprocess.run(
            [a.replace("{pid}", str(agent)) for a in enter or into],
            check=True,
            timeout=30,
            stdout=subprocess.DEVNULL,
        )
        time.sleep(0.3)
        stop.touch()
        _, err = agent_proc.communicate(timeout=60)
    finally:
        if agent_proc.poll() is None:
            agent_proc.kill()
            agent_proc.wait()
    assert agent_proc.returncode == 0, err[-3000:]
    return [json.loads(x) for x in records.read_text().splitlines()], entered, err


def test_shell_entered_from_outside_is_recorded(tmp_path: Path, tracer_backend: str) -> None:
    records, entered, err = run_with_intruder(tmp_path, tracer_backend)
    outside = [
        r for r in records if "rule" not in r and "outside_tree" in r.get("tags", [])
    ]  # fmt: skip
    cmds = [r["output_fields"]["proc.cmdline"] for r in outside]
    assert any(c.startswith("sh -c sleep 0.5") for c in cmds), (cmds, err[-2000:])
    # The shell's children: without ptrace, those that live longer than a scan or two.
    assert {"sleep 0.5", "sleep 0.6"} & set(cmds), cmds
    shell = next(r for r in outside if r["output_fields"]["proc.cmdline"].startswith("sh -c"))
    assert shell["output_fields"]["evt.type"] == "execve"
    found_after = (_ns(shell["time"]) - entered) / 1e9
    print(f"\n{tracer_backend}: shell found {found_after:.3f} s after nsenter started")
    assert found_after < 5.0  # one scan (0.1 s) here; the emulated 5.10 VM is much slower
    alerts = {r["rule"]: r["output_fields"] for r in records if "rule" in r}
    if tracer_backend != "notify_no_ptrace":  # followed: even a millisecond's command
        assert {"sleep 0.5", "id", "uname -a", "cat /etc/shadow", "sleep 0.6"} <= set(cmds), cmds
        assert "outside" in err and "followed with ptrace" in err
        # Its syscalls are recorded as the application's are (PTRACE_SYSCALL and the
        # application's own seccomp program), with the kernel's answer at the exit.
        fields = [r["output_fields"] for r in outside]
        shadow = [f for f in fields if f["evt.type"] in ("open", "openat")
                  and f.get("fd.name") == "/etc/shadow" and f["proc.name"] == "cat"]  # fmt: skip
        assert shadow and shadow[0]["evt.res"] >= 0, fields  # the fd
        conn = [f for f in fields if f["evt.type"] == "connect" and f.get("fd.rport") == 3333]
        assert conn and conn[0]["evt.res"] == 0 and conn[0]["fd.rip"] == "127.0.0.1", conn
        # Only the profile's syscalls: sh's and python's reads, writes, mmaps are not.
        assert not {f["evt.type"] for f in fields} & {"read", "write", "mmap", "close"}
        assert alerts["Read sensitive file by unexpected program"]["proc.name"] == "cat"
        assert alerts["Connection to a mining pool port"]["fd.rport"] == 3333
    # Nothing of the application itself is tagged as outside.
    assert not [c for c in cmds if "os.path.exists" in c]
    assert "Shell run in the container from outside the application" in alerts


def test_outside_syscalls_off_follows_execs_only(tmp_path: Path) -> None:
    """tracer.outside_syscalls = false: what they run, not what they open (no cost to a
    busy sidecar process)."""
    records, _, err = run_with_intruder(tmp_path, "ptrace", tracer="outside_syscalls = false")
    outside = [r["output_fields"] for r in records
               if "rule" not in r and "outside_tree" in r.get("tags", [])]  # fmt: skip
    assert "cat /etc/shadow" in {f["proc.cmdline"] for f in outside}, err[-2000:]
    assert {f["evt.type"] for f in outside} == {"execve"}
    assert "execs only" in err


FALCO = Path(__file__).parents[1] / "filters" / "falco"


def test_terminal_shell_from_outside_fires_falcos_rule(tmp_path: Path, tracer_backend: str) -> None:
    """Falco's stable "Terminal shell in container" acted out as it happens: a shell with
    a terminal whose parent is not in the container (kubectl exec, docker exec -it, ECS
    Exec). Needs Falco's file (TRACEHOUND_FALCO_RULES_DIR, as tests/filters/test_falco_e2e.py)
    and container metadata (the rule's `container` macro): the test's ECS endpoint."""
    falco = os.environ.get("TRACEHOUND_FALCO_RULES_DIR")
    if not falco or shutil.which("script") is None:
        pytest.skip("TRACEHOUND_FALCO_RULES_DIR is not set, or script(1) is missing")
    sys.path.insert(0, str(FALCO))
    from ecs_metadata import EcsMetadata

    shell = "nsenter -t {pid} -p -m /bin/sh -c 'sleep 0.5; cat /etc/shadow > /dev/null; sleep 0.3'"
    with EcsMetadata() as ecs:
        records, _, err = run_with_intruder(
            tmp_path,
            tracer_backend,
            rules=[str(Path(falco) / "falco_rules.yaml")],
            enter=["script", "-qec", shell, "/dev/null"],
            env={**os.environ, "ECS_CONTAINER_METADATA_URI_V4": ecs.url},
        )
    alerts = {r["rule"]: r["output_fields"] for r in records if "rule" in r}
    term = alerts.get("Terminal shell in container")
    assert term is not None, (sorted(alerts), err[-2000:])
    assert term["proc.name"] == "sh" and term["proc.tty"] != 0 and term["proc.pname"] is None
    if tracer_backend != "notify_no_ptrace":  # its open is seen too, and Falco's rule fires
        assert alerts["Read sensitive file untrusted"]["proc.name"] == "cat"

"""GuardDuty's runtime findings, acted out by real programs under `tracehound run` with
the shipped default config (no --config: profile auto, default rules, alerts as
JSON lines on stderr), on every backend.

attack.sh performs one finding per step (guardduty/actor.c is the small C program an
attacker would write for the syscall-level ones; nmap and masscan are the real tools
when installed, hydra, crontab and xmrig are /bin/true under the tool's name); each
finding must raise the default rule that names it, on the process that did it. The
benign workload (nginx with workers, a Python service, tar/gzip, git, common programs)
must raise nothing. docs/rules.md lists the same mapping.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from th_support import AGENT, BACKENDS, with_backend

from tracehound.agent.config import default_config_text
from tracehound.agent.config_env import CONFIG_ENV

HERE = Path(__file__).parent / "guardduty"
pytestmark = pytest.mark.slow

Alert = dict[str, Any]


def _out(a: Alert) -> str:
    return str(a["output"])


def _cmd(text: str) -> Callable[[Alert], bool]:
    return lambda a: text in _out(a)


# (GuardDuty finding type, our rule, what identifies the step's alert)
FINDINGS: list[tuple[str, str, Callable[[Alert], bool]]] = [
    ("Impact:Runtime/CryptoMinerExecuted", "Crypto miner launched", _cmd("proc=xmrig")),
    ("Impact:Runtime/CryptoMinerExecuted", "Crypto miner launched", _cmd("stratum+tcp://")),
    ("CryptoCurrency:Runtime/BitcoinTool.B", "Connection to a mining pool port", _cmd(":3333")),
    ("UnauthorizedAccess:Runtime/TorClient", "Connection to a Tor port", _cmd(":9050")),
    (
        "Execution:Runtime/NewLibraryLoaded",
        "Library loaded from a file written after start",
        _cmd("lib/libhook.so proc=true"),
    ),
    (
        "Execution:Runtime/NewLibraryLoaded",
        "Library loaded from a file written after start",
        _cmd("lib/libplug.so.1 proc=actor"),
    ),
    ("Execution:Runtime/NewBinaryExecuted", "Drop and execute new binary", _cmd("bin/dropped")),
    ("Execution:Runtime/SuspiciousTool", "Offensive tool launched", _cmd("proc=nmap")),
    ("Execution:Runtime/SuspiciousTool", "Offensive tool launched", _cmd("proc=masscan")),
    ("Execution:Runtime/SuspiciousTool", "Offensive tool launched", _cmd("proc=hydra")),
    (
        "Execution:Runtime/SuspiciousCommand",
        "Decoded or downloaded payload run by a shell",
        _cmd("base64 -d | sh"),
    ),
    (
        "Execution:Runtime/SuspiciousCommand",
        "Decoded or downloaded payload run by a shell",
        _cmd("| bash"),
    ),
    (
        "Execution:Runtime/SuspiciousCommand",
        "Decoded or downloaded payload run by a shell",
        _cmd("b64decode"),
    ),
    (
        "PrivilegeEscalation:Runtime/DockerSocketAccessed",
        "Container runtime socket contacted",
        _cmd("run/docker.sock proc=actor"),
    ),
    (
        "PrivilegeEscalation:Runtime/RuncContainerEscape",
        "Running executable opened for writing",
        # file= is /proc/self/exe where the open's refusal (ETXTBSY) is seen, the
        # program's own path where the agent resolved the claim (no ptrace)
        _cmd("cmdline=actor selfexe"),
    ),
    (
        "PrivilegeEscalation:Runtime/CGroupsReleaseAgentModified",
        "Cgroup release_agent written",
        _cmd("release_agent proc=actor"),
    ),
    (
        "PrivilegeEscalation:Runtime/ContainerMountsHostDirectory",
        "Filesystem mounted in container",
        _cmd("fstype=tmpfs syscall=mount"),
    ),
    ("PrivilegeEscalation:Runtime/UserfaultfdUsage", "Userfaultfd created", _cmd("proc=actor")),
    (
        "DefenseEvasion:Runtime/ProcessInjection.Proc",
        "Process memory opened for writing",
        _cmd("/mem proc=actor"),
    ),
    (
        "DefenseEvasion:Runtime/ProcessInjection.Ptrace",
        "Ptrace attach or memory write",
        _cmd("PTRACE_POKEDATA"),
    ),
    ("DefenseEvasion:Runtime/PtraceAntiDebugging", "Ptrace anti-debugging", _cmd("actor")),
    (
        "DefenseEvasion:Runtime/KernelModuleLoaded",
        "Kernel module load attempt",
        _cmd("syscall=finit_module"),
    ),
    (
        "DefenseEvasion:Runtime/KernelModuleLoaded",
        "Kernel module load attempt",
        _cmd("syscall=init_module"),
    ),
    ("DefenseEvasion:Runtime/FilelessExecution", "Fileless execution via memfd", _cmd("/memfd:")),
    (
        "Persistence:Runtime/SuspiciousCommand",
        "SSH authorized_keys modified",
        _cmd("home/.ssh/authorized_keys"),
    ),
    ("Persistence:Runtime/SuspiciousCommand", "Startup or scheduler file written", _cmd(".bashrc")),
    ("Persistence:Runtime/SuspiciousCommand", "Persistence tool launched", _cmd("crontab -l")),
    ("Execution:Runtime/ReverseShell", "Redirect stdio to network connection", _cmd("proc=bash")),
    (
        "Execution:Runtime/SuspiciousShellCreated",
        "Shell spawned by a server process",
        _cmd("process nginx"),
    ),
    (
        "Discovery:Runtime/SuspiciousCommand",
        "Discovery command from a server's shell",
        _cmd("cmdline=uname -a"),
    ),
    (
        "PrivilegeEscalation:Runtime/ElevationToRoot",
        "Setuid or setgid to root by non-root",
        _cmd("uid=65534"),
    ),
]


# Findings that cannot show on the backend "notify_no_ptrace" (a container whose seccomp
# profile refuses ptrace): the profile fails ptrace(2) before our filter sees it (so it
# cannot work for the attacker either), and without exit stops a successful setuid to
# nobody is not seen, so the later setuid(0) looks like root's.
NO_PTRACE_BLIND = {
    "DefenseEvasion:Runtime/ProcessInjection.Ptrace",
    "DefenseEvasion:Runtime/PtraceAntiDebugging",
    "PrivilegeEscalation:Runtime/ElevationToRoot",
}


def run_default(argv: list[str], cwd: Path, backend: str | None = None) -> list[Alert]:
    """`tracehound run -- argv` without a config file; the alerts it wrote on stderr."""
    _, prefix = with_backend("", backend)
    cmd = [*prefix, *AGENT, "run"]
    env = dict(os.environ)
    if backend is not None:  # the shipped default config, with only the backend changed
        name = "seccomp_notify" if backend == "notify_no_ptrace" else backend
        text = default_config_text()
        assert 'backend = "auto"' in text
        env[CONFIG_ENV] = text.replace('backend = "auto"', f'backend = "{name}"', 1)
    r = subprocess.run(
        [*cmd, "--", *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )
    assert r.returncode == 0, r.stderr[-3000:]
    alerts = []
    for line in r.stderr.splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            if "rule" in rec:
                alerts.append(rec)
    return alerts


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("gcc") is None:
        pytest.fail("gcc is required (installed by scripts/test)")
    out = tmp_path_factory.mktemp("gd")
    actor, hook = out / "actor", out / "hook.so"
    subprocess.run(["gcc", "-O1", "-o", str(actor), str(HERE / "actor.c"), "-ldl"], check=True)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(hook), str(HERE / "hook.c")], check=True)
    return actor, hook


@pytest.fixture(scope="module", params=BACKENDS)
def attack_alerts(
    request: pytest.FixtureRequest,
    built: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> list[Alert]:
    work = tmp_path_factory.mktemp("attack")
    return run_default(
        [str(HERE / "attack.sh"), str(work), *map(str, built)], work, str(request.param)
    )


@pytest.mark.parametrize(
    ("finding", "rule", "match"), FINDINGS, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(FINDINGS)]
)
def test_finding_raises_its_rule(
    attack_alerts: list[Alert],
    finding: str,
    rule: str,
    match: Callable[[Alert], bool],
    request: pytest.FixtureRequest,
) -> None:
    if finding in NO_PTRACE_BLIND and "notify_no_ptrace" in request.node.callspec.id:
        pytest.skip("not visible without ptrace (see NO_PTRACE_BLIND)")
    mine = [a for a in attack_alerts if a["rule"] == rule]
    assert any(match(a) for a in mine), (finding, rule, [_out(a) for a in mine])


def test_every_new_default_rule_is_acted_out() -> None:
    """Each rule of the default file shows up in FINDINGS or in the older e2e attack."""
    from tracehound.filters.config import FiltersConfig
    from tracehound.filters.falco.engine import load_configured_rules

    _, compiled, issues, _ = load_configured_rules(FiltersConfig().rules, Path("."))
    assert not [i for i in issues if i.severity != "info"]
    sys.path.insert(0, str(Path(__file__).parent))
    from test_e2e import ATTACK_RULES

    # tests/agent/test_outside.py acts out the two rules for processes from outside.
    outside = {
        "Shell run in the container from outside the application",
        "Program run in the container from outside the application",
    }
    # tests/agent/test_attacker.py acts out the rules of the agent's own guard.
    guard = {
        "Attempt to silence or patch the agent",
        "Seccomp listener requested by the application",
        "io_uring ring created",
        "Process made itself unreadable",
        "Syscall argument unreadable by the agent",
        "Clone hidden from the tracer",
        "Process memory opened for reading",
    }
    # tests/agent/test_truth.py acts out the claim mismatch with the attacker's programs,
    # tests/agent/test_exit_skips.py a path rebound under skipped opens.
    truth = {"Syscall argument changed behind the tracer", "Path rebound while an open ran"}
    covered = {rule for _, rule, _ in FINDINGS} | ATTACK_RULES | outside | guard | truth
    assert {r.name for r in compiled} <= covered


def test_benign_workload_raises_nothing() -> None:
    if shutil.which("nginx") is None:
        pytest.fail("nginx is required (nginx-light, installed by scripts/test)")
    with socket.socket() as s:  # a free port for nginx
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # nginx's workers run as nobody: the site must be readable, which pytest's tmp_path
    # (mode 0700 parents) is not.
    work = Path(tempfile.mkdtemp(prefix="th-benign-"))
    try:
        work.chmod(0o755)
        alerts = run_default([str(HERE / "benign.sh"), str(work), str(port)], work)
        assert [a["output"] for a in alerts] == []
        assert (work / "nginx-access.log").read_text().count(" 200 ") >= 5  # it did work
    finally:
        shutil.rmtree(work, ignore_errors=True)

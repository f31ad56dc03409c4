"""Running the real agent from tests: the command line and its records."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AGENT = [sys.executable, "-m", "tracehound.agent.cli"]
NO_PTRACE = str(Path(__file__).with_name("no_ptrace.py"))

# Backends the tracer tests run on: "notify_no_ptrace" is seccomp_notify where
# ptrace(2) is refused (a container without SYS_PTRACE), so /proc stands in for
# the lifecycle events.
BACKENDS = ("seccomp_notify", "ptrace", "notify_no_ptrace")

# "notify_nocap": the agent as it runs in a task without SYS_PTRACE: Docker's (and
# Fargate's) default capability set, so CAP_SYS_PTRACE really is gone, and ptrace(2)
# refused by the seccomp profile. The attacker tests run on this mode too.
DOCKER_CAPS = (
    "chown,dac_override,fowner,fsetid,kill,setgid,setuid,setpcap,net_bind_service,"
    "net_raw,sys_chroot,mknod,audit_write,setfcap"
)
NOCAP = [
    "setpriv",
    "--bounding-set",
    "-all," + ",".join("+" + c for c in DOCKER_CAPS.split(",")),
    "--inh-caps",
    "-all",
    "--ambient-caps",
    "-all",
    "--",
]
ALL_MODES = (*BACKENDS, "notify_nocap")


def with_backend(config: str, backend: str | None) -> tuple[str, list[str]]:
    """The config with `tracer.backend` set, and the command prefix the backend needs."""
    if backend is None:
        return config, []
    name = "seccomp_notify" if backend in ("notify_no_ptrace", "notify_nocap") else backend
    line = f'backend = "{name}"'
    if "[tracer]\n" in config:
        config = config.replace("[tracer]\n", f"[tracer]\n{line}\n", 1)
    else:
        config = f"[tracer]\n{line}\n{config}"
    prefix = [sys.executable, NO_PTRACE] if backend == "notify_no_ptrace" else []
    if backend == "notify_nocap":
        prefix = [*NOCAP, sys.executable, NO_PTRACE]
    return config, prefix


@dataclass
class TracedRun:
    returncode: int
    stdout: str
    stderr: str
    records: list[dict[str, Any]]

    def events(self, evt_type: str | None = None) -> list[dict[str, Any]]:
        """output_fields of the event records (not alerts), optionally of one evt.type."""
        out = [r["output_fields"] for r in self.records if "rule" not in r]
        return [f for f in out if evt_type is None or f.get("evt.type") == evt_type]

    def alerts(self) -> list[dict[str, Any]]:
        return [r for r in self.records if "rule" in r]

    def tracer_stats(self) -> dict[str, Any]:
        return final_tracer_stats(self.stderr)


def final_tracer_stats(stderr: str) -> dict[str, Any]:
    """The agent's final tracer stats (a long run also reports them periodically, before)."""
    for line in reversed(stderr.splitlines()):
        if line.startswith("tracehound: tracer stats "):
            stats: dict[str, Any] = json.loads(line.split(" stats ", 1)[1])
            return stats
    raise AssertionError(f"no tracer stats in stderr:\n{stderr}")


def write_config(path: Path, records: Path, extra: str = "") -> Path:
    path.write_text(
        f'{extra}\n[sinks.out]\ntype = "file"\npath = "{records}"\ninputs = ["events", "alerts"]\n'
    )
    return path

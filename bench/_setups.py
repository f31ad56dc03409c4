"""The configurations every workload runs under, and the commands they prefix."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

PROFILE_NAMES = ("minimal", "balanced", "aggressive")


def profile_syscalls(profile: str) -> frozenset[str]:
    """The tracer's own list, so strace --seccomp-bpf traces exactly what tracehound does."""
    from tracehound.agent.tracer.profiles import PROFILES

    return PROFILES[profile]


def strace_trace_arg(names: frozenset[str]) -> str:
    # '?' keeps strace from refusing a name it does not know (e.g. fchmodat2 on 6.1)
    return "trace=" + ",".join("?" + n for n in sorted(names))


def tracehound_cmd() -> list[str]:
    """The console script beside this interpreter: no pyenv shim in the measured path."""
    beside = Path(sys.executable).parent / "tracehound"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("tracehound")
    if not found:
        raise RuntimeError("tracehound is not installed (pip install -e .)")
    return [found]


def tracehound_config(
    profile: str, sink_path: Path, extra: str = "", backend: str = "auto", verify: bool = True
) -> str:
    # Every event goes to a file sink, so the pipeline's cost is part of the figure.
    return f"""\
[agent]
stats_interval_secs = 0
log_level = "warning"

[tracer]
profile = "{profile}"
backend = "{backend}"
verify = {str(verify).lower()}

[sinks.out]
type = "file"
path = "{sink_path}"
inputs = ["events", "alerts"]
{extra}"""


@dataclass(frozen=True)
class Setup:
    key: str
    label: str
    profile: str | None = None  # tracehound's profile, if this is a tracehound run
    backend: str = "auto"  # tracehound's tracer.backend
    verify: bool = True  # tracehound's tracer.verify
    # TRACEHOUND_KERNEL_FEATURES_OFF: the kernel features the probe reports missing
    features_off: str = ""

    @property
    def is_tracehound(self) -> bool:
        return self.profile is not None

    def prefix(self, run_dir: Path, bin_dir: Path) -> list[str]:
        """The command put in front of the workload; writes a config into run_dir if needed."""
        if self.key == "native":
            return []
        if self.key == "seccomp_allow":
            return [str(bin_dir / "allow_all")]
        if self.key == "strace_all":
            return ["strace", "-f", "-o", "/dev/null"]
        if self.key == "strace_bpf":
            arg = strace_trace_arg(profile_syscalls("balanced"))
            return ["strace", "-f", "--seccomp-bpf", "-e", arg, "-o", "/dev/null"]
        assert self.profile is not None
        cfg = run_dir / f"{self.key}.toml"
        if self.profile == "default":  # the shipped tracer defaults; alerts to a file
            text = '[agent]\nstats_interval_secs = 0\nlog_level = "warning"\n'
            if self.backend != "auto":
                text += f'[tracer]\nbackend = "{self.backend}"\n'
            text += f'[sinks.out]\ntype = "file"\npath = "{self.sink_path(run_dir)}"\n'
            cfg.write_text(text + 'inputs = ["alerts"]\n')
        else:
            cfg.write_text(
                tracehound_config(
                    self.profile, self.sink_path(run_dir), backend=self.backend, verify=self.verify
                )
            )
        env = ["env", f"TRACEHOUND_KERNEL_FEATURES_OFF={self.features_off}"]
        return [*(env if self.features_off else []), *tracehound_cmd(), "run", "--config",
                str(cfg), "--"]  # fmt: skip

    def sink_path(self, run_dir: Path) -> Path:
        return run_dir / f"{self.key}.events.jsonl"


SETUPS: tuple[Setup, ...] = (
    Setup("native", "native"),
    # A filter that allows everything: what any seccomp filter costs where nothing stops.
    Setup("seccomp_allow", "seccomp filter only (allows all)"),
    Setup("strace_all", "strace -f"),
    Setup("strace_bpf", "strace --seccomp-bpf (balanced)"),
    *(Setup(f"th_{p}", f"tracehound {p}", p) for p in PROFILE_NAMES),
    # The profiles above run on backend "auto" (seccomp_notify where SYNC_WAKE_UP
    # works, as on these machines); this column forces the other backend.
    Setup("th_balanced_ptrace", "tracehound balanced, ptrace", "balanced", "ptrace"),
    # What Fargate's kernel (5.10) gives: no SYNC_WAKE_UP, no WAIT_KILLABLE_RECV
    # (masked, see README), so auto picks as it would there.
    Setup(
        "th_balanced_fargate",
        "tracehound balanced, Fargate kernel",
        "balanced",
        features_off="sync_wakeup,wait_killable_recv",
    ),
    # The claims only: no exit stops for opens and connects (tracer.verify = false).
    Setup("th_balanced_noverify", "tracehound balanced, verify off", "balanced", verify=False),
    # The shipped tracer config (profile and exit stops as a user gets them), alerts only.
    Setup("th_default", "tracehound default config, alerts only", "default"),
    # The same on Fargate's kernel: auto picks ptrace, opens stay ptrace stops.
    Setup(
        "th_default_fargate",
        "tracehound default config, Fargate kernel",
        "default",
        features_off="sync_wakeup,wait_killable_recv",
    ),
    Setup(
        "th_default_fargate_notify",
        "tracehound default config, Fargate kernel, seccomp_notify",
        "default",
        "seccomp_notify",
        features_off="sync_wakeup,wait_killable_recv",
    ),
)

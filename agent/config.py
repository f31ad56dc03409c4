"""The one TOML configuration file: typed structs, decoding and validation.

Loading is Vector-style: parse, collect *every* type error with its key path and
line, run the semantic checks of each section, and only then build anything.
Sections owned by other packages (filters, sinks) define their own structs and
checks; this module composes them.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import msgspec

from tracehound.agent.tracer.profiles import PROFILES, unknown_syscalls
from tracehound.agent.tracer.specs import VERIFIED
from tracehound.config_checks import (
    int_between,
    raise_problems,
    seconds_up_to,
    within,
)
from tracehound.config_validate import collect_errors
from tracehound.filters.config import FiltersConfig, check_filters
from tracehound.sinks import SinkConfig, check_sinks, deprecated_sinks
from tracehound.sinks.console import ConsoleSinkConfig
from tracehound.toml_lines import key_lines, line_of

log = logging.getLogger("tracehound")

NO_SINKS = (
    "no [sinks.*] table: alerts go to the default console sink (stderr); "
    "add a sink to send them elsewhere"
)


class QueueConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The hand-off between the tracer thread and the asyncio pipeline."""

    max_events: int = 100_000
    # Memory bound (estimated bytes of queued events) of the pipeline's side of the
    # queue: past it the pipeline stops taking, and the capture core keeps the
    # backlog (8 MiB at most), dropping and counting past that, or with "block"
    # making the tracee wait.
    max_bytes: int = 4 * 1024 * 1024
    # "drop": never stall the application, count what is lost (default).
    # "block": stop the tracee until the pipeline catches up (no loss, app slows).
    when_full: Literal["drop", "block"] = "drop"

    def __post_init__(self) -> None:
        raise_problems(
            [
                int_between("max_events", self.max_events, 1, 10_000_000),
                int_between("max_bytes", self.max_bytes, 1, 1 << 30),
            ]
        )


class TracerConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # "auto": derived from the loaded rules and the sinks (agent/selection.py); the
    # others pin the set.
    profile: Literal["auto", "minimal", "balanced", "aggressive", "custom"] = "auto"
    # How traced syscalls reach the capture core (see agent/tracer/backend.py).
    backend: Literal["auto", "seccomp_notify", "ptrace"] = "auto"
    # Backend ptrace only: "follow" moves the tracer thread to the CPU its tracees
    # run on (sampled every 64 stops), never pinning the application.
    ptrace_placement: Literal["none", "follow"] = "none"
    # io_uring's operations are invisible to a syscall tracer: "alert" records the
    # ring's creation (a default rule alerts), "deny" refuses io_uring_setup with
    # EPERM as Docker's default seccomp profile does (libuv, tokio, glibc fall back).
    io_uring: Literal["alert", "deny"] = "alert"
    # With profile = "custom": the syscalls to trace, by name.
    syscalls: list[str] = []
    # Syscalls whose result is worth a second (exit) stop. accept/accept4 need it
    # for the peer address; the setuid family to keep user.uid right.
    capture_results: list[str] = msgspec.field(
        default_factory=lambda: [
            *("accept", "accept4"),
            *("setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid"),
        ]
    )
    # Report what the kernel did, not only what the application passed: opens and
    # connects take the exit stop (their result; the opened file, the socket's peer),
    # and a difference from the argument read at entry is flagged (agent/tracer/truth.py).
    verify: bool = True
    # Processes in the container outside the application's tree (ECS Exec, docker exec,
    # see agent/outside.py): "auto" looks for them when the agent is PID 1 of its pid
    # namespace; every outside_scan_secs.
    outside: Literal["auto", "on", "off"] = "auto"
    outside_scan_secs: float = 0.1
    # With ptrace, their syscalls stop as the application's do (two stops per syscall of
    # theirs); false: only their lifecycle (execs, forks, exits), at no cost to them.
    outside_syscalls: bool = True
    argv_max: int = 64  # arguments kept per execve
    arg_max_bytes: int = 4096  # bytes read per string argument (PATH_MAX)
    batch_max_events: int = 256  # events per hand-off to the pipeline
    queue: QueueConfig = msgspec.field(default_factory=QueueConfig)

    def results_known(self) -> list[str]:
        """Syscalls whose result is captured (with ptrace): capture_results, and with
        verify the opens and connects."""
        return [*self.capture_results, *(sorted(VERIFIED) if self.verify else ())]

    def __post_init__(self) -> None:
        raise_problems(
            [
                # The core reads at most this much per stop, with no Python in between.
                int_between("argv_max", self.argv_max, 1, 4096),
                int_between("arg_max_bytes", self.arg_max_bytes, 16, 65536),
                int_between("batch_max_events", self.batch_max_events, 1, 100_000),
                within("outside_scan_secs", self.outside_scan_secs, 0.01, 60.0),
            ]
        )


class AgentConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # Flush deadline after the application exits; under ECS's 30 s stopTimeout.
    shutdown_timeout_secs: float = 25.0
    # How often per-sink and tracer counters go to the agent's stderr (0 = only at exit).
    stats_interval_secs: float = 60.0
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    def __post_init__(self) -> None:
        raise_problems(
            [
                seconds_up_to("shutdown_timeout_secs", self.shutdown_timeout_secs, 3600),
                seconds_up_to("stats_interval_secs", self.stats_interval_secs, 86400, zero=True),
            ]
        )


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    agent: AgentConfig = msgspec.field(default_factory=AgentConfig)
    tracer: TracerConfig = msgspec.field(default_factory=TracerConfig)
    filters: FiltersConfig = msgspec.field(default_factory=FiltersConfig)
    sinks: dict[str, SinkConfig] = {}


@dataclass
class ConfigIssue:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}" + (f" (line {self.line})" if self.line else "")
        return f"{where}: {self.message}"


class ConfigError(Exception):
    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = issues
        super().__init__("\n".join(f"{source}: {i}" for i in issues))


def default_config_text() -> str:
    return resources.files("tracehound.config").joinpath("default.toml").read_text()


def _semantic(cfg: Config, base_dir: Path) -> list[tuple[tuple[str, ...], str]]:
    errs: list[tuple[tuple[str, ...], str]] = []
    if cfg.tracer.profile == "custom":
        if not cfg.tracer.syscalls:
            errs.append(
                (("tracer", "syscalls"), 'profile = "custom" needs a non-empty syscalls list')
            )
    elif cfg.tracer.syscalls:
        errs.append((("tracer", "syscalls"), 'syscalls is only used with profile = "custom"'))
    for name in unknown_syscalls(cfg.tracer.syscalls):
        errs.append((("tracer", "syscalls"), f"unknown syscall {name!r}"))
    for name in unknown_syscalls(cfg.tracer.capture_results):
        errs.append((("tracer", "capture_results"), f"unknown syscall {name!r}"))
    assert set(PROFILES) >= {"minimal", "balanced", "aggressive"}
    errs += check_filters(cfg.filters, ("filters",), base_dir)
    errs += check_sinks(cfg.sinks, ("sinks",))
    return errs


def parse_config(text: str, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Decode and validate; raise ConfigError listing every problem found."""
    lines = key_lines(text)

    def issue(path: tuple[str, ...], msg: str) -> ConfigIssue:
        return ConfigIssue(".".join(path) or "(top level)", line_of(lines, path), msg)

    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [ConfigIssue("(syntax)", None, str(exc))]) from None
    except (ValueError, RecursionError) as exc:  # a 5000-digit integer, tables nested too deep
        line = _line_of_error(text, exc)
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0]
        raise ConfigError(source, [ConfigIssue("(syntax)", line, why)]) from None
    errors = collect_errors(raw, Config, ())
    if errors:
        raise ConfigError(source, [issue(p, m) for p, m in errors])
    cfg = msgspec.convert(raw, Config)
    sem = _semantic(cfg, base_dir or Path.cwd())
    if sem:
        raise ConfigError(source, [issue(p, m) for p, m in sem])
    for p, m in deprecated_sinks(cfg.sinks, ("sinks",)):
        log.warning("tracehound: warning: %s: %s", source, issue(p, m))
    if not cfg.sinks:
        # Never run with nowhere for alerts to go: keep the default, and say so.
        cfg.sinks = {"console": ConsoleSinkConfig()}
        log.warning("tracehound: warning: %s: %s", source, NO_SINKS)
    return cfg


def _line_of_error(text: str, exc: BaseException) -> int | None:
    """The line of a huge integer tomllib refused (it says no position); None otherwise."""
    if isinstance(exc, RecursionError):
        return None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if any(len(run) > 4000 for run in line.replace("_", "").split() if run[:1].isdigit()):
            return lineno
    return None


def load_config(path: str | Path | None) -> Config:
    """Load FILE, or the shipped default when path is None."""
    if path is None:
        return parse_config(default_config_text(), "default.toml", Path.cwd())
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(str(p), [ConfigIssue("(file)", None, exc.strerror or str(exc))]) from None
    except UnicodeDecodeError as exc:
        line = p.read_bytes()[: exc.start].count(b"\n") + 1
        msg = f"not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})"
        raise ConfigError(str(p), [ConfigIssue("(file)", line, msg)]) from None
    return parse_config(text, str(p), p.resolve().parent)


def effective_config(cfg: Config) -> dict[str, Any]:
    """The config with every default filled in, as plain data (for print-config).
    Unset optional values are left out: TOML has no null."""
    return _without_none(msgspec.to_builtins(cfg))


def _without_none(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _without_none(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_without_none(x) for x in v]
    return v

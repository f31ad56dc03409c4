"""Adaptive syscall selection: which syscalls stop the application, and which also take
their exit stop, derived from what the loaded rules and the sinks can use (Falco's
adaptive syscall selection / base_syscalls, for seccomp).

- profile "auto" (the default): the event types the rules name, what their fields need
  (`proc.is_exe_upper_layer` / `fd.is_upper_layer` need the writes), what the baseline
  learns from, and execve (the process table needs it). A sink taking "events" adds the
  balanced profile: event records are then the product, not only the rules' input.
- a named profile or "custom" pins the set; a rule whose types it misses is a note.
- exit stops: `tracer.capture_results` plus the types of every rule that reads a
  syscall's result (evt.res, fd.num, ...), among the traced ones; "custom" pins them too.

Each choice keeps its reasons, for `validate` and `print-config`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tracehound.agent.tracer.profiles import PROFILES, resolve
from tracehound.agent.tracer.syscalls import ALL_NAMES, canonical
from tracehound.families import CONNECT, EXEC, OPEN, SETID

# Fields only known at a syscall's exit.
RESULT_FIELDS = frozenset({"evt.res", "evt.rawres", "fd.num", "fd.connected", "evt.failed"})
_EXEC = EXEC
# Opens the tracer can stop (open_by_handle_at only in the aggressive profile).
_OPENS = OPEN - {"open_by_handle_at"}
# What "written during this run" is learned from (filters' WrittenFiles).
_WRITES = _OPENS | {"rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat"}
_FIELD_NEEDS = {
    "proc.is_exe_upper_layer": _WRITES,
    "fd.is_upper_layer": _WRITES,
}
# The process table learns a uid or gid change from the setuid family (with its exit
# stop, in tracer.capture_results by default): without it a process that dropped to
# nobody keeps its parent's user.
_ID_FIELDS = frozenset({"user.uid", "user.name", "group.gid", "group.name"})
_BASELINE = _EXEC | _OPENS | CONNECT
_SHOWN = 3  # rule names listed per syscall before "+N more"


@dataclass
class Selection:
    profile: str
    traced: frozenset[str]
    capture: frozenset[str]
    why: dict[str, list[str]] = field(default_factory=dict)  # syscall -> reasons
    capture_why: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        """Lines for validate / print-config: what was chosen and why."""
        how = "derived from the rules and sinks" if self.profile == "auto" else "pinned"
        out = [f"tracer: profile {self.profile!r}: {len(self.traced)} syscalls stop ({how})"]
        for name in sorted(self.traced):
            out.append(f"  {name}: {_join(self.why.get(name, ['profile ' + self.profile]))}")
        out.append(f"tracer: exit stops (with ptrace): {', '.join(sorted(self.capture)) or 'none'}")
        for name in sorted(self.capture_why):
            out.append(f"  {name}: {_join(self.capture_why[name])}")
        out += [f"note: {n}" for n in self.notes]
        return out


def _join(reasons: list[str]) -> str:
    rules = [r for r in reasons if r.startswith("rule ")]
    other = [r for r in reasons if not r.startswith("rule ")]
    shown = other + rules[:_SHOWN]
    more = len(rules) - _SHOWN
    return "; ".join(shown) + (f" (+{more} more rules)" if more > 0 else "")


def _syscalls(types: Iterable[str]) -> set[str]:
    """Event types that are syscalls we can trace (Falco also has non-syscall types)."""
    return {c for t in types if (c := canonical(t)) in ALL_NAMES}


def select(
    *,
    profile: str,
    syscalls: Iterable[str],
    capture_results: Iterable[str],
    rules: Iterable[object],
    events_wanted: bool,
    baseline: bool,
) -> Selection:
    """rules: the compiled rules (name, types, fields, source, line)."""
    rules = list(rules)
    why: dict[str, list[str]] = {}

    def need(names: Iterable[str], reason: str) -> None:
        for n in names:
            why.setdefault(n, []).append(reason)

    for r in rules:
        types = getattr(r, "types", None)
        name = getattr(r, "name", "?")
        if types is not None:
            need(_syscalls(types), f"rule {name!r}")
        for f, names in _FIELD_NEEDS.items():
            if f in getattr(r, "fields", ()):
                need(names, f"{f} (rule {name!r}) learns from writes")
        ids = sorted(_ID_FIELDS & getattr(r, "fields", frozenset()))
        if ids:
            need(SETID, f"{ids[0]} (rule {name!r}) follows uid/gid changes")
    if baseline:
        need(_BASELINE, "baseline learns from it")
    need(_EXEC, "the process table follows execs")
    if profile == "auto":
        if events_wanted:
            need(PROFILES["balanced"], 'a sink takes "events": the balanced set')
        traced = frozenset(why)
    else:
        traced = frozenset(resolve(profile, syscalls))
    sel = Selection(profile, traced, frozenset(), {k: v for k, v in why.items() if k in traced})
    if profile != "auto":
        missed = sorted(set(why) - traced)
        if missed:
            sel.notes.append(
                f"profile {profile!r} pins a set without "
                + "; ".join(f"{m} ({_join(why[m])})" for m in missed[:5])
                + (f" and {len(missed) - 5} more" if len(missed) > 5 else "")
                + ': profile = "auto" would trace them'
            )

    capture: dict[str, list[str]] = {}
    for n in _syscalls(capture_results):
        capture.setdefault(n, []).append("tracer.capture_results")
    if profile != "custom":
        for r in rules:
            types = getattr(r, "types", None)
            reads = sorted(getattr(r, "fields", frozenset()) & RESULT_FIELDS)
            if types is not None and reads:
                for n in _syscalls(types):
                    capture.setdefault(n, []).append(
                        f"rule {getattr(r, 'name', '?')!r} reads {', '.join(reads)}"
                    )
    sel.capture = frozenset(capture) & traced
    sel.capture_why = {k: v for k, v in capture.items() if k in traced}
    return sel


def for_config(cfg: object, rules: Iterable[object]) -> Selection:
    """The selection for an agent Config and its compiled rules."""
    tc = getattr(cfg, "tracer")  # noqa: B009 - agent.config.Config, kept import-free
    sinks = getattr(cfg, "sinks")  # noqa: B009
    filters = getattr(cfg, "filters")  # noqa: B009
    return select(
        profile=tc.profile,
        syscalls=tc.syscalls,
        capture_results=tc.capture_results,
        rules=rules,
        events_wanted=any("events" in s.inputs for s in sinks.values()),
        baseline=filters.baseline.mode != "off",
    )


def describe_config(cfg: object, base_dir: object) -> list[str]:
    """validate / print-config: load the configured rules and describe the selection."""
    from pathlib import Path

    from tracehound.filters.falco.engine import load_configured_rules

    filters = getattr(cfg, "filters")  # noqa: B009
    compiled: list[object] = []
    if filters.rules.enabled:
        try:
            _, compiled_rules, _, _ = load_configured_rules(filters.rules, Path(str(base_dir)))
            compiled = list(compiled_rules)
        except Exception as exc:  # validate reports the rule errors itself
            return [f"tracer: syscalls not derived: the rules do not load ({exc})"]
    return for_config(cfg, compiled).describe()

"""What `tracehound validate` says about the rule files: per file how many rules
loaded, were disabled and were skipped; which rules were skipped and why; which
rules can never fire with the chosen tracer profile, or need a syscall result the
tracer does not capture."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tracehound.filters.config import FiltersConfig
from tracehound.filters.rules import load_configured_rules

# Fields that are only known when the tracer takes the syscall's exit stop.
RESULT_FIELDS = frozenset({"evt.res", "evt.rawres", "fd.num", "fd.connected", "evt.failed"})


@dataclass(slots=True)
class RulesReport:
    lines: list[str] = field(default_factory=list)  # per-file summaries
    warnings: list[str] = field(default_factory=list)  # skipped rules (fail --strict)
    notes: list[str] = field(default_factory=list)  # rules that cannot fire as configured


def traced_syscalls(profile: str, custom: list[str]) -> frozenset[str] | None:
    if profile == "auto":  # derived from these very rules: nothing to note
        return None
    try:
        from tracehound.agent.tracer.profiles import resolve
    except ImportError:  # pragma: no cover - tracer being replaced: no profile check
        return None
    return frozenset(resolve(profile, custom))


def rules_report(
    cfg: FiltersConfig,
    base_dir: Path,
    *,
    profile: str,
    syscalls: list[str],
    capture_results: list[str],
) -> RulesReport:
    rep = RulesReport()
    rc = cfg.rules
    if not rc.enabled:
        rep.lines.append("rules: disabled")
        return rep
    sources, compiled, issues, loader = load_configured_rules(rc, base_dir)
    for src in sources:
        st = loader.stats.get(src.name)
        if st is not None:
            rep.lines.append(
                f"{src.name}: {st.loaded} rules loaded, {st.disabled} disabled, "
                f"{st.skipped} skipped"
            )
    rep.warnings += [str(i) for i in issues if i.severity == "warning"]
    rep.notes += [str(i) for i in issues if i.severity == "info"]
    traced = traced_syscalls(profile, syscalls)
    captured = frozenset(capture_results)
    for r in compiled:
        where = f"{r.source}" + (f" line {r.line}" if r.line else "")
        if r.types is None:
            if r.warn_evttypes:
                rep.notes.append(
                    f"{where}: rule {r.name!r} does not restrict evt.type: it runs for every event"
                )
            continue
        if traced is not None and r.warn_evttypes and not (r.types & traced):
            rep.notes.append(
                f"{where}: rule {r.name!r} can never fire: profile {profile!r} traces none of "
                f"its event types ({', '.join(sorted(r.types))})"
            )
            continue
        needs = sorted(r.fields & RESULT_FIELDS)
        # Other profiles add the exit stops the rules read (agent/selection.py).
        if needs and profile == "custom" and not (r.types & captured):
            rep.notes.append(
                f"{where}: rule {r.name!r} reads {', '.join(needs)}, known only for syscalls in "
                f"tracer.capture_results; add one of {', '.join(sorted(r.types))} there"
            )
    return rep


def print_rules_report(cfg: object, base_dir: Path, *, strict: bool) -> bool:
    """Print the report for a loaded Config; False when --strict and a rule was skipped."""
    tracer = getattr(cfg, "tracer")  # noqa: B009 - agent.Config, not imported here
    filters = getattr(cfg, "filters")  # noqa: B009
    rep = rules_report(
        filters,
        base_dir,
        profile=tracer.profile,
        syscalls=list(tracer.syscalls),
        capture_results=list(tracer.results_known()),
    )
    for line in rep.lines:
        print(line)
    for w in rep.warnings:
        print(w)
    for n in rep.notes:
        print(f"note: {n}")
    if strict and rep.warnings:
        print(f"--strict: {len(rep.warnings)} rule(s) skipped as unsupported")
        return False
    return True

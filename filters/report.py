"""What `tracehound validate` says about the rule files: per file how many rules
loaded, were disabled and were skipped; which rules were skipped and why; which
rules can never fire with the chosen tracer profile, or need a syscall result the
tracer does not capture."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tracehound.filters.config import FiltersConfig
from tracehound.filters.falco.engine import load_configured_rules

# Fields that are only known when the tracer takes the syscall's exit stop.
RESULT_FIELDS = frozenset({"evt.res", "evt.rawres", "fd.num", "fd.connected", "evt.failed"})


@dataclass(slots=True)
class RulesReport:
    lines: list[str] = field(default_factory=list)  # per-file summaries
    warnings: list[str] = field(default_factory=list)  # skipped rules (fail --strict)
    notes: list[str] = field(default_factory=list)  # rules that cannot fire as configured


def rules_report(
    cfg: FiltersConfig,
    base_dir: Path,
    *,
    profile: str,
    traced: frozenset[str] | None,
    capture_results: list[str],
) -> RulesReport:
    """`traced`: the syscalls the tracer profile stops at (the agent resolves the profile;
    None skips the check)."""
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


def print_rules_report(
    cfg: FiltersConfig,
    base_dir: Path,
    *,
    profile: str,
    traced: frozenset[str] | None,
    capture_results: list[str],
    strict: bool,
) -> bool:
    """Print the report; False when --strict and a rule was skipped."""
    rep = rules_report(
        cfg, base_dir, profile=profile, traced=traced, capture_results=capture_results
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

"""The stage chain: enrich -> sampling -> sensitive paths -> baseline -> rules.

`process` is plain synchronous code over a batch (no I/O, no awaits); `start` and
`stop` do the I/O around it (ECS metadata, baseline load and saves).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup

from tracehound.event import Alert, Event
from tracehound.families import CONNECT, CREATE, EXEC, MODIFY, OPEN
from tracehound.filters.baseline import Baseline, write_atomic
from tracehound.filters.baseline_s3 import S3Baseline, is_s3_url
from tracehound.filters.config import FiltersConfig
from tracehound.filters.enrich import Enricher
from tracehound.filters.falco import procfs
from tracehound.filters.falco.compiler import CompiledRule
from tracehound.filters.falco.engine import RuleEngine, load_configured_rules
from tracehound.filters.falco.fields import (
    FieldContext,
    detect_privileged,
    is_open_write,
    proc_level_fields,
)
from tracehound.filters.sampling import Sampler
from tracehound.filters.sensitive import PATH_TYPES, SensitivePaths
from tracehound.periodic import Periodic
from tracehound.task import TaskInfo

log = logging.getLogger("tracehound.filters")


_BASELINE_TYPES = EXEC | OPEN | CONNECT


class RulesLoadError(Exception):
    pass


@dataclass(slots=True)
class _Plan:
    observe: bool
    tag: bool
    exec_: bool
    baseline: bool
    sample: bool
    rules: list[CompiledRule]


class StageChain:
    def __init__(
        self,
        cfg: FiltersConfig,
        rules: RuleEngine | None,
        *,
        now_ns: int | None = None,
        ctx: FieldContext | None = None,
    ) -> None:
        """`ctx`: the state the rules' field helpers read; the one `rules` were compiled
        with (build_chain makes one per chain)."""
        self.cfg = cfg
        self.ctx = ctx = ctx if ctx is not None else FieldContext()
        self.enricher = Enricher(cfg.enrich, ctx.task)
        self.sampler = Sampler(cfg.sampling)
        self.sensitive = (
            SensitivePaths(cfg.sensitive_paths) if cfg.sensitive_paths.enabled else None
        )
        self.baseline = Baseline(cfg.baseline, now_ns)
        bl = cfg.baseline
        self._s3 = (
            S3Baseline(bl.file, bl.region, bl.endpoint_url)
            if self.baseline.active and is_s3_url(bl.file)
            else None
        )
        self.rules = rules
        self.written = ctx.written  # read by proc.is_exe_upper_layer
        ctx.users.update(self.enricher.users)  # user.loginname, evt.arg.uid = NAME
        ctx.privileged = detect_privileged()
        # Rules reading /proc-level fields (capabilities, loginuid, env...): read them at
        # exec, while the new program is alive, instead of when a later event needs them.
        proc_fields = proc_level_fields()
        self.prefetch = rules is not None and any(
            (r.fields | {n.split("[")[0] for n in r.render.field_names}) & proc_fields
            for r in rules.rules
        )
        self.events_in = 0
        self.taught = 0  # writes learned (see teaches)
        self._plans: dict[str, _Plan] = {}
        self._saver: Periodic | None = None

    # ---- the synchronous hot path ----

    def _plan(self, etype: str) -> _Plan:
        """Which stages can care about this event type (computed once per type)."""
        rules = self.rules.candidates(etype) if self.rules is not None else []
        plan = _Plan(
            observe=etype in OPEN or etype in MODIFY,
            tag=self.sensitive is not None and etype in PATH_TYPES,
            exec_=etype in EXEC,
            baseline=self.baseline.active and etype in _BASELINE_TYPES,
            sample=self.sampler.active and etype in self.sampler.rates,
            rules=rules,
        )
        self._plans[etype] = plan
        return plan

    def process(self, batch: list[Event]) -> tuple[list[Event], list[Alert]]:
        kept: list[Event] = []
        alerts: list[Alert] = []
        plans = self._plans
        enrich = self.enricher
        users = enrich.users if enrich.enabled else {}
        groups = enrich.groups if enrich.enabled else {}
        ancestors = enrich.ancestors if enrich.enabled else None
        sampler = self.sampler
        baseline = self.baseline
        engine = self.rules
        observe = self.written.observe
        tag = self.sensitive.process if self.sensitive is not None else None
        self.events_in += len(batch)
        for e in batch:
            plan = plans.get(e.type) or self._plan(e.type)
            proc = e.proc
            # enrich: names are dict lookups; ancestors only for execs (and alerts below)
            name = users.get(proc.uid)
            if name is not None:
                e.fields["user.name"] = name
            name = groups.get(proc.gid)
            if name is not None:
                e.fields["group.name"] = name
            if plan.exec_:
                if ancestors is not None:
                    ancestors(e)
                if self.prefetch:
                    procfs.prefetch(proc)
            if plan.observe and observe(e):  # before sampling: a dropped write still counts
                self.taught += 1
            if plan.tag and tag is not None:
                tag(e)
            matched: list[CompiledRule] | None = None
            if plan.sample and sampler.should_drop(e):
                # Never drop what would alert: evaluate the rules now and reuse the result.
                matched = [r for r in plan.rules if engine is not None and engine.matches(r, e)]
                if matched or (plan.baseline and baseline.would_alert(e)):
                    sampler.kept_for_alert += 1
                else:
                    sampler.count_drop(e)
                    continue
            if plan.baseline:
                a = baseline.process(e)
                if a is not None:
                    alerts.append(a)
            if plan.rules and engine is not None:
                if matched is None:
                    engine.run_cached(plan.rules, e, alerts, self.written.version)
                elif matched:
                    engine.run(matched, e, alerts, True)
            kept.append(e)
        if alerts and ancestors is not None:
            for a in alerts:
                ancestors(a.event)
        return kept, alerts

    # ---- relevance: which events need no object at all ----

    @property
    def epoch(self) -> int:
        """Changes whenever an answer of matters() may no longer hold."""
        return self.written.version

    def teaches(self, e: Event) -> bool:
        """Whether process() will learn from `e` (a write: the epoch may change). The
        process table counts those it hands over; while it has handed over more than
        `taught`, answers of matters() may be stale, and it filters nothing."""
        plan = self._plans.get(e.type) or self._plan(e.type)
        return plan.observe and (is_open_write(e) or e.type in CREATE)

    def matters(self, e: Event) -> bool:
        """Whether an event equal to `e` (type, fields, tags, process snapshot) could
        make a difference here: an alert, a stage's state, a sampling or baseline count.
        Side-effect free. When no sink takes events, the process table does not hand
        over the repeats of an event that does not matter (it counts them: `filtered`)."""
        plan = self._plans.get(e.type) or self._plan(e.type)
        if plan.exec_ or plan.sample or plan.baseline:
            return True
        if plan.observe and (is_open_write(e) or e.type in CREATE):
            return True  # a write: proc.is_exe_upper_layer / fd.is_upper_layer learn it
        if plan.tag and self.sensitive is not None and self.sensitive.would_tag(e):
            return True
        if not plan.rules or self.rules is None:
            return False
        probe = Event(e.ts, e.type, e.tid, e.proc, e.fields.copy(), set(e.tags))
        if self.enricher.enabled:  # what process() adds before the rules read the event
            name = self.enricher.users.get(e.proc.uid)
            if name is not None:
                probe.fields["user.name"] = name
            name = self.enricher.groups.get(e.proc.gid)
            if name is not None:
                probe.fields["group.name"] = name
        return self.rules.could_fire(plan.rules, probe)

    @property
    def rule_errors(self) -> int:
        """Rule/event pairs lost because the rule raised (see RuleEngine.run)."""
        return self.rules.rule_errors if self.rules is not None else 0

    # ---- I/O around it ----

    async def start(self, tg: TaskGroup) -> None:
        """Load what the stages need; their periodic work (baseline saves, ECS metadata
        refresh) runs in tasks of `tg`."""
        await self.enricher.start(tg)
        if self.baseline.active:
            if self._s3 is not None:
                warning = await self._s3.load(self.baseline)
            else:
                warning = await anyio.to_thread.run_sync(self.baseline.load)
            if warning:
                log.warning("%s", warning)
            interval = self.cfg.baseline.save_interval_secs
            if interval > 0 and self.baseline.file:
                self._saver = Periodic(interval, self.save_baseline)
                self._saver.start(tg)

    async def stop(self) -> None:
        if self._saver is not None:
            await self._saver.stop()
        await self.enricher.stop()
        await self.save_baseline()

    async def save_baseline(self) -> None:
        if not self.baseline.active:
            return
        if self._s3 is not None:
            try:
                await self._s3.save(self.baseline)
            except Exception as exc:  # dirty again: the next interval tries again
                log.error("merging baseline into %s failed: %s", self.baseline.file, exc)
            return
        data = self.baseline.snapshot()
        if data is None:
            return
        try:
            await anyio.to_thread.run_sync(write_atomic, self.baseline.file, data)
        except OSError as exc:
            self.baseline.dirty = True  # try again next time
            log.error("saving baseline to %s failed: %s", self.baseline.file, exc)

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"events_in": self.events_in, "rule_errors": self.rule_errors}
        out.update(self.sampler.stats())
        out["sensitive_tagged"] = self.sensitive.tagged if self.sensitive else 0
        if self.baseline.active:
            out.update(self.baseline.stats())
            if self._s3 is not None:
                out["baseline_s3_saves"] = self._s3.saves
                out["baseline_s3_conflicts"] = self._s3.conflicts
        if self.rules is not None:
            out["alerts"] = self.rules.alerts
            out["alerts_suppressed"] = self.rules.suppressed
            for name, n in sorted(self.rules.suppressed_per_rule.items()):
                out[f"alerts_suppressed.{name}"] = n
        out["ecs_metadata"] = bool(self.enricher.ecs)
        return out


def build_rules(
    cfg: FiltersConfig, base_dir: Path, ctx: FieldContext | None = None
) -> RuleEngine | None:
    rc = cfg.rules
    if not rc.enabled:
        return None
    _, compiled, issues, _ = load_configured_rules(rc, base_dir, ctx)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise RulesLoadError("\n".join(str(i) for i in errors))
    for issue in issues:
        if issue.severity == "warning":
            log.warning("%s", issue)
    return RuleEngine(
        compiled,
        match_all=rc.match == "all",
        rate=rc.rate_limit.rate,
        burst=rc.rate_limit.burst,
    )


def build_chain(
    cfg: FiltersConfig,
    base_dir: Path,
    *,
    now_ns: int | None = None,
    task: TaskInfo | None = None,
) -> StageChain:
    """Build every stage; raises RulesLoadError if the rule files do not load. `task`:
    where the enrichment stage puts the ECS task metadata it fetches (shared with the
    records and the sinks)."""
    ctx = FieldContext(task if task is not None else TaskInfo())
    return StageChain(cfg, build_rules(cfg, base_dir, ctx), now_ns=now_ns, ctx=ctx)

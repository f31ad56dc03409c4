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

from tracehound.agent.event import Alert, Event
from tracehound.filters import _fields, _procinfo
from tracehound.filters._loader import CompiledRule
from tracehound.filters.baseline import Baseline, write_atomic
from tracehound.filters.baseline_s3 import S3Baseline, is_s3_url
from tracehound.filters.config import FiltersConfig
from tracehound.filters.enrich import Enricher
from tracehound.filters.periodic import Periodic
from tracehound.filters.rules import RuleEngine, load_configured_rules
from tracehound.filters.sampling import Sampler
from tracehound.filters.sensitive import MODIFY_TYPES, PATH_TYPES, SensitivePaths

log = logging.getLogger("tracehound.filters")


_EXEC_TYPES = frozenset({"execve", "execveat"})
_BASELINE_TYPES = _EXEC_TYPES | _fields.OPEN_TYPES | {"connect"}


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
    ) -> None:
        self.cfg = cfg
        self.enricher = Enricher(cfg.enrich)
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
        self.written = _fields.WrittenFiles()
        _fields.WRITTEN = self.written  # read by proc.is_exe_upper_layer
        _fields.USERS.clear()
        _fields.USERS.update(self.enricher.users)  # user.loginname, evt.arg.uid = NAME
        _fields.PRIVILEGED[0] = _fields.detect_privileged()
        # Rules reading /proc-level fields (capabilities, loginuid, env...): read them at
        # exec, while the new program is alive, instead of when a later event needs them.
        self.prefetch = rules is not None and any(
            (r.fields | {n.split("[")[0] for n in r.render.field_names}) & _fields.PROC_LEVEL_FIELDS
            for r in rules.rules
        )
        self.events_in = 0
        self.rule_errors = 0  # a rule that raised on an event: that pair only is lost
        self._plans: dict[str, _Plan] = {}
        self._saver: Periodic | None = None

    # ---- the synchronous hot path ----

    def _plan(self, etype: str) -> _Plan:
        """Which stages can care about this event type (computed once per type)."""
        rules = self.rules.candidates(etype) if self.rules is not None else []
        plan = _Plan(
            observe=etype in _fields.OPEN_TYPES or etype in MODIFY_TYPES,
            tag=self.sensitive is not None and etype in PATH_TYPES,
            exec_=etype in _EXEC_TYPES,
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
        match_all = engine.match_all if engine is not None else True
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
                    _procinfo.prefetch(proc)
            if plan.observe:
                observe(e)  # before sampling: a dropped write still counts for drop-and-exec
            if plan.tag and tag is not None:
                tag(e)
            matched: list[CompiledRule] | None = None
            if plan.sample and sampler.should_drop(e):
                # Never drop what would alert: evaluate the rules now and reuse the result.
                matched = [r for r in plan.rules if self._match(r, e)]
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
                for r in plan.rules if matched is None else matched:
                    if matched is not None or self._match(r, e):
                        a = engine.fire(r, e)
                        if a is not None:
                            alerts.append(a)
                        if not match_all:
                            break
            kept.append(e)
        if alerts and ancestors is not None:
            for a in alerts:
                ancestors(a.event)
        return kept, alerts

    def _match(self, r: CompiledRule, e: Event) -> bool:
        """One rule on one event. A rule that raises (a field of an unexpected type)
        loses only this pair: counted, logged a few times, never the whole batch."""
        try:
            return bool(r.match(e))
        except Exception:
            self.rule_errors += 1
            if self.rule_errors <= 5:
                log.exception("rule %r failed on a %s event; counted (rule_errors)", r.name, e.type)
            return False

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


def build_rules(cfg: FiltersConfig, base_dir: Path) -> RuleEngine | None:
    rc = cfg.rules
    if not rc.enabled:
        return None
    _, compiled, issues, _ = load_configured_rules(rc, base_dir)
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


def build_chain(cfg: FiltersConfig, base_dir: Path, *, now_ns: int | None = None) -> StageChain:
    """Build every stage; raises RulesLoadError if the rule files do not load."""
    return StageChain(cfg, build_rules(cfg, base_dir), now_ns=now_ns)

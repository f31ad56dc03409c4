"""The rules stage: compiled Falco-style rules indexed by event type, plus rate limiting.

An event only runs the rules whose condition can match its evt.type (found by
looking at the condition's top-level `evt.type` checks), so a busy `read` stream
costs nothing when no rule looks at reads.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tracehound.event import Alert, Event, priority_rank
from tracehound.filters.falco.compiler import CompiledRule, RuleLoader
from tracehound.filters.falco.fields import FIELDS, FieldContext, generic_field
from tracehound.filters.falco.reader import LoadIssue, RuleSource, read_rule_file

log = logging.getLogger("tracehound.filters")


def load_rules(
    sources: Iterable[RuleSource],
    *,
    disabled: Iterable[str] = (),
    disabled_tags: Iterable[str] = (),
    minimum_priority: str = "Debug",
    ctx: FieldContext | None = None,
) -> tuple[list[CompiledRule], list[LoadIssue], RuleLoader]:
    """Read and compile the files. Issues with severity "error" mean the files do not
    load; "warning"/"info" issues name rules that were skipped. The same files and
    options are parsed once per process (validate checks, then reports; run checks,
    then builds the engine): the last result is reused.

    `ctx` is the state the rules' fields read (the chain's). A result compiled without
    one (the config check) is bound to the first chain that asks; a result bound to
    one chain is never handed to another (two chains do not share state)."""
    key = (
        tuple((s.name, s.text, s.error) for s in sources),
        tuple(disabled),
        tuple(disabled_tags),
        minimum_priority,
    )
    if _last_load and _last_load[0] == key and _last_load[1] in (None, ctx):
        result: tuple[list[CompiledRule], list[LoadIssue], RuleLoader] = _last_load[2]
        if ctx is not None and _last_load[1] is None:
            for r in result[0]:
                r.bind(ctx)
    else:
        result = _load_rules(key[0], key[1], key[2], minimum_priority, ctx)
    _last_load[:] = [key, ctx, result]
    return result


_last_load: list[Any] = []  # [key, ctx, result] of the last load_rules()


def _load_rules(
    sources: tuple[tuple[str, str | None, str], ...],
    disabled: tuple[str, ...],
    disabled_tags: tuple[str, ...],
    minimum_priority: str,
    ctx: FieldContext | None,
) -> tuple[list[CompiledRule], list[LoadIssue], RuleLoader]:
    loader = RuleLoader()
    for name, text, error in sources:
        if text is None:
            loader.issues.append(LoadIssue(name, None, error))
            continue
        loader.add_text(text, name)
    try:
        floor = priority_rank(minimum_priority)
    except ValueError:  # reported by the config check
        floor = priority_rank("Debug")
    compiled = loader.compile(set(disabled), set(disabled_tags), floor, ctx)
    return compiled, loader.issues, loader


class TokenBuckets:
    """Per-key token buckets on event time: `burst` at once, then `rate` per second."""

    def __init__(self, rate: float, burst: float, max_keys: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._b: dict[object, list[float]] = {}

    def allow(self, key: object, now_s: float) -> bool:
        b = self._b.get(key)
        if b is None:
            if len(self._b) >= self.max_keys:
                self._b.clear()  # crude bound: forgetting buckets only loosens the limit
            self._b[key] = [self.burst - 1.0, now_s]
            return True
        tokens = min(self.burst, b[0] + (now_s - b[1]) * self.rate)
        b[1] = now_s
        if tokens >= 1.0:
            b[0] = tokens - 1.0
            return True
        b[0] = tokens
        return False


_MEMO_MAX = 4096  # remembered events (about 1 KB each); forgotten all at once when full
_RAISED = "raised"  # a verdict: the rule raised on such an event


def _steady(r: CompiledRule) -> bool:
    """Every field the rule's condition reads is steady (see RuleEngine.run_cached)."""
    for name in r.fields:
        base = name.split("[", 1)[0]
        spec = FIELDS.get(base) or generic_field(base)
        if spec is None or spec.varies:
            return False
    return True


class RuleEngine:
    def __init__(
        self,
        rules: list[CompiledRule],
        *,
        match_all: bool = True,
        rate: float = 0.0,
        burst: float = 1.0,
    ) -> None:
        self.rules = sorted(rules, key=lambda r: r.order)
        self.match_all = match_all
        self._any = [r for r in self.rules if r.types is None]
        typed: dict[str, list[CompiledRule]] = {}
        for r in self.rules:
            for t in r.types or ():
                typed.setdefault(t, []).append(r)
        self._by_type: dict[str, list[CompiledRule]] = {
            t: sorted(rs + self._any, key=lambda r: r.order) for t, rs in typed.items()
        }
        self._limiter = TokenBuckets(rate, burst) if rate > 0 else None
        self.alerts = 0
        self.suppressed = 0
        self.per_rule: dict[str, int] = {}
        self.suppressed_per_rule: dict[str, int] = {}
        self.rule_errors = 0  # a rule that raised on an event: that pair only is lost
        # Verdicts of the rules that read only the event (see run_cached).
        # key -> [process snapshot, verdicts (one per rule), what is left to do or None]
        self._memo: dict[tuple[Any, ...], list[Any]] = {}
        self._steady: dict[int, tuple[list[CompiledRule], tuple[bool, ...]]] = {}
        self.memo_hits = 0

    def types(self) -> set[str]:
        return set(self._by_type)

    def candidates(self, event_type: str) -> list[CompiledRule]:
        return self._by_type.get(event_type, self._any)

    def would_alert(self, e: Event) -> bool:
        return any(r.match(e) for r in self._by_type.get(e.type, self._any))

    def evaluate(self, e: Event) -> list[Alert]:
        """The alerts for one event (what the stage chain does for each event, alone)."""
        alerts: list[Alert] = []
        self.run(self._by_type.get(e.type, self._any), e, alerts)
        return alerts

    def run(
        self, rules: list[CompiledRule], e: Event, alerts: list[Alert], matched: bool = False
    ) -> None:
        """The one matching loop: run `rules` (the candidates for e.type, or with
        `matched` the rules already known to match) and append the alerts that pass the
        rate limit. The stage chain and the tests both come through here."""
        for r in rules:
            if not matched:
                try:
                    if not r.match(e):
                        continue
                except Exception:
                    self._failed(r, e)
                    continue
            a = self.fire(r, e)
            if a is not None:
                alerts.append(a)
            if not self.match_all:
                break

    def run_cached(
        self, rules: list[CompiledRule], e: Event, alerts: list[Alert], epoch: int = 0
    ) -> None:
        """run(), with the verdicts of steady rules reused between equal events.

        A rule is steady when every field its condition reads is a function of the
        event's type, fields and tags and of its process snapshot (immutable; what a
        snapshot reads from /proc is read once): no time, no thread id, no chain state
        (FieldSpec.varies). Two events equal in those get the same verdict from it, so
        the verdict is looked up instead of evaluated. Every event still fires its own
        alert (its time, its rate limit); the other rules run as in run(). `epoch`:
        the written-files version (fields with `written` are steady within one)."""
        steady = self._steady_mask(rules)
        if not any(steady):
            self.run(rules, e, alerts)
            return
        tags = e.tags
        try:
            items = tuple(e.fields.items())
            key = (e.type, id(e.proc), items, frozenset(tags) if tags else None, epoch)
            hit = self._memo.get(key)
        except TypeError:  # a field value that cannot be a key (a list)
            self.run(rules, e, alerts)
            return
        if hit is not None and hit[0] is e.proc:  # the id is this snapshot's, not a freed one's
            self.memo_hits += 1
            todo = hit[2]
            if todo is not None:  # every steady verdict known: only what can fire is left
                for r, v in todo:
                    if v is None:
                        try:
                            if not r.match(e):
                                continue
                        except Exception:
                            self._failed(r, e)
                            continue
                    elif v is _RAISED:
                        self.rule_errors += 1
                        continue
                    a = self.fire(r, e)
                    if a is not None:
                        alerts.append(a)
                    if not self.match_all:
                        break
                return
        else:
            if len(self._memo) >= _MEMO_MAX:
                self._memo.clear()
            hit = self._memo[key] = [e.proc, [None] * len(rules), None]
        verdicts = hit[1]
        for i, r in enumerate(rules):
            if steady[i]:
                v = verdicts[i]
                if v is None:  # first time this rule is reached for such an event
                    try:
                        v = verdicts[i] = bool(r.match(e))
                    except Exception:
                        verdicts[i] = _RAISED
                        self._failed(r, e)
                        continue
                elif v is _RAISED:
                    self.rule_errors += 1
                    continue
                if not v:
                    continue
            else:
                try:
                    if not r.match(e):
                        continue
                except Exception:
                    self._failed(r, e)
                    continue
            a = self.fire(r, e)
            if a is not None:
                alerts.append(a)
            if not self.match_all:
                break
        if None not in (v for i, v in enumerate(verdicts) if steady[i]):
            # (rule, verdict) for what a later equal event must still look at:
            # the steady rules that match or raised, and every other rule (None: evaluate)
            hit[2] = [
                (r, verdicts[i] if steady[i] else None)
                for i, r in enumerate(rules)
                if not steady[i] or verdicts[i] is not False
            ]

    def could_fire(self, rules: list[CompiledRule], e: Event) -> bool:
        """Whether any of `rules` could fire on an event equal to `e` (side-effect
        free): a rule that is not steady, matches, or raises could."""
        for r in rules:
            if not _steady(r):
                return True
            try:
                if r.match(e):
                    return True
            except Exception:
                return True
        return False

    def _steady_mask(self, rules: list[CompiledRule]) -> tuple[bool, ...]:
        got = self._steady.get(id(rules))
        if got is not None and got[0] is rules:
            return got[1]
        mask = tuple(_steady(r) for r in rules)
        self._steady[id(rules)] = (rules, mask)
        return mask

    def matches(self, r: CompiledRule, e: Event) -> bool:
        """One rule on one event, as run() tests it (a rule that raises is no match)."""
        try:
            return bool(r.match(e))
        except Exception:
            self._failed(r, e)
            return False

    def _failed(self, r: CompiledRule, e: Event) -> None:
        """A rule that raises (a field of an unexpected type) loses only this pair:
        counted, logged a few times, never the whole batch."""
        self.rule_errors += 1
        if self.rule_errors <= 5:
            log.exception("rule %r failed on a %s event; counted (rule_errors)", r.name, e.type)

    def fire(self, r: CompiledRule, e: Event) -> Alert | None:
        """Turn a match into an alert, unless the rate limit suppresses it."""
        output = r.render(e)
        if self._limiter is not None and not self._limiter.allow((r.name, output), e.ts / 1e9):
            self.suppressed += 1
            self.suppressed_per_rule[r.name] = self.suppressed_per_rule.get(r.name, 0) + 1
            return None
        self.alerts += 1
        self.per_rule[r.name] = self.per_rule.get(r.name, 0) + 1
        return Alert(e, r.name, r.priority, output, r.tags, str(uuid.uuid4()), r.render.fields(e))


def load_configured_rules(
    rc: Any, base_dir: Path, ctx: FieldContext | None = None
) -> tuple[Any, Any, Any, Any]:
    """`filters.rules`' files, read and compiled: (sources, rules, issues, loader)."""
    sources = [read_rule_file(f, base_dir) for f in rc.files]
    compiled, issues, loader = load_rules(
        sources,
        disabled=rc.disabled,
        disabled_tags=rc.disabled_tags,
        minimum_priority=rc.minimum_priority,
        ctx=ctx,
    )
    return sources, compiled, issues, loader

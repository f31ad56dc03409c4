"""The rules stage: compiled Falco-style rules indexed by event type, plus rate limiting.

An event only runs the rules whose condition can match its evt.type (found by
looking at the condition's top-level `evt.type` checks), so a busy `read` stream
costs nothing when no rule looks at reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from tracehound.agent.event import Alert, Event, priority_rank
from tracehound.filters._loader import CompiledRule, LoadIssue, RuleLoader

BUILTIN_PREFIX = "builtin:"


@dataclass(slots=True)
class RuleSource:
    name: str  # as written in the config (for messages)
    text: str | None  # None: could not be read
    error: str = ""


def read_rule_file(entry: str, base_dir: Path) -> RuleSource:
    """Read one `files` entry: a path (relative to base_dir) or builtin:NAME."""
    if entry.startswith(BUILTIN_PREFIX):
        name = entry[len(BUILTIN_PREFIX) :]
        try:
            res = resources.files("tracehound.config").joinpath(name)
            return RuleSource(entry, res.read_text())
        except (FileNotFoundError, OSError, ModuleNotFoundError):
            return RuleSource(entry, None, f"no shipped rule file named {name!r}")
    path = Path(entry).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    try:
        data = path.read_bytes()
    except OSError as exc:
        return RuleSource(
            entry, None, f"cannot read rule file {str(path)!r}: {exc.strerror or exc}"
        )
    try:
        return RuleSource(entry, data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return RuleSource(
            entry,
            None,
            f"rule file {str(path)!r} is not UTF-8 text (line {line}, offset {exc.start})",
        )


def load_rules(
    sources: Iterable[RuleSource],
    *,
    disabled: Iterable[str] = (),
    disabled_tags: Iterable[str] = (),
    minimum_priority: str = "Debug",
) -> tuple[list[CompiledRule], list[LoadIssue], RuleLoader]:
    """Read and compile the files. Issues with severity "error" mean the files do not
    load; "warning"/"info" issues name rules that were skipped. The same files and
    options are parsed once per process (validate checks, then reports; run checks,
    then builds the engine): the last result is reused."""
    key = (
        tuple((s.name, s.text, s.error) for s in sources),
        tuple(disabled),
        tuple(disabled_tags),
        minimum_priority,
    )
    if _last_load and _last_load[0] == key:
        return _last_load[1]
    result = _load_rules(key[0], key[1], key[2], minimum_priority)
    _last_load[:] = [key, result]
    return result


_last_load: list[Any] = []  # [key, result] of the last load_rules()


def _load_rules(
    sources: tuple[tuple[str, str | None, str], ...],
    disabled: tuple[str, ...],
    disabled_tags: tuple[str, ...],
    minimum_priority: str,
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
    compiled = loader.compile(set(disabled), set(disabled_tags), floor)
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

    def types(self) -> set[str]:
        return set(self._by_type)

    def candidates(self, event_type: str) -> list[CompiledRule]:
        return self._by_type.get(event_type, self._any)

    def matching(self, e: Event) -> list[CompiledRule]:
        out = []
        for r in self._by_type.get(e.type, self._any):
            if r.match(e):
                out.append(r)
                if not self.match_all:
                    break
        return out

    def would_alert(self, e: Event) -> bool:
        return any(r.match(e) for r in self._by_type.get(e.type, self._any))

    def evaluate(self, e: Event) -> list[Alert]:
        return self.run(self._by_type.get(e.type, self._any), e)

    def run(self, rules: list[CompiledRule], e: Event) -> list[Alert]:
        """Run `rules` (the candidates for e.type); the alerts that pass the rate limit."""
        alerts: list[Alert] = []
        for r in rules:
            if not r.match(e):
                continue
            a = self.fire(r, e)
            if a is not None:
                alerts.append(a)
            if not self.match_all:
                break
        return alerts

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


def load_configured_rules(rc: Any, base_dir: Path) -> tuple[Any, Any, Any, Any]:
    """`filters.rules`' files, read and compiled: (sources, rules, issues, loader)."""
    sources = [read_rule_file(f, base_dir) for f in rc.files]
    compiled, issues, loader = load_rules(
        sources,
        disabled=rc.disabled,
        disabled_tags=rc.disabled_tags,
        minimum_priority=rc.minimum_priority,
    )
    return sources, compiled, issues, loader

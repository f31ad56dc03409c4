"""Compile collected rules: expand macros and lists, add exceptions, generate matchers.

The last step of loading (reader -> collector -> compiler). A rule switched off
(by name, tag, priority floor or in its file) is not compiled; a rule that needs
something tracehound lacks is skipped with a warning naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tracehound.event import priority_rank
from tracehound.filters.falco.codegen import Matcher, compile_condition
from tracehound.filters.falco.collector import FileStats, RuleCollector, RuleDef
from tracehound.filters.falco.fields import FieldContext
from tracehound.filters.falco.output import OutputTemplate, compile_output
from tracehound.filters.falco.reader import LoadIssue
from tracehound.filters.falco.syntax import (
    LIST_OPS,
    MAX_DEPTH,
    SUPPORTED_OPS,
    BoolOp,
    ConditionError,
    Const,
    Node,
    Not,
    UnsupportedError,
    event_types,
    fields_of,
    parse_condition,
)

_EXC_KEYS = frozenset({"name", "fields", "comps", "values"})


@dataclass(slots=True)
class CompiledRule:
    name: str
    desc: str
    priority: str
    rank: int
    tags: tuple[str, ...]
    match: Matcher
    render: OutputTemplate
    types: frozenset[str] | None  # None: the rule looks at every event type
    order: int
    source: str
    line: int | None
    code: str = ""
    warn_evttypes: bool = True
    fields: frozenset[str] = frozenset()  # every field the condition reads

    def bind(self, ctx: FieldContext) -> None:
        """Make the compiled code read `ctx` (it was compiled with a fresh one)."""
        self.match.__globals__["_ctx"] = ctx
        self.render.bind(ctx)


class RuleLoader(RuleCollector):
    """A collector that also compiles what it collected."""

    def compile(
        self,
        disabled: set[str] | frozenset[str] = frozenset(),
        disabled_tags: set[str] | frozenset[str] = frozenset(),
        floor: int = 7,
        ctx: FieldContext | None = None,
    ) -> list[CompiledRule]:
        """Compile the enabled rules. A rule switched off here (by name, tag or priority
        floor) or in its file is not compiled at all, so its errors cannot stop the load.
        A rule that needs something tracehound lacks (a field, an operator) is skipped
        with a warning naming it, as Falco's skip-if-unknown-filter skips it."""
        out: list[CompiledRule] = []
        macro_cache: dict[str, Node] = {}
        for order, r in enumerate(self.rules.values()):
            stats = self.stats.setdefault(r.source, FileStats())
            off = (
                not r.enabled
                or r.foreign_source
                or r.name in disabled
                or bool(disabled_tags.intersection(r.tags))
                or priority_rank(r.priority) > floor
            )
            if off:
                stats.disabled += 1
                continue
            try:
                node = self._parse(r.condition, macro_cache, [])
                if r.exceptions:
                    node = BoolOp("and", [node, Not(self._exceptions(r))])
                if _depth(node) > 2 * MAX_DEPTH:
                    raise ConditionError(
                        f"nested too deeply with its macros (more than {2 * MAX_DEPTH} levels)", 1
                    )
                match, code = compile_condition(node, ctx)
                render = compile_output(r.output, ctx)
            except UnsupportedError as exc:
                stats.skipped += 1
                self.skipped[r.name] = exc.what
                what = "output" if "in output" in exc.message else "condition"
                how = " (skip-if-unknown-filter)" if r.skip_if_unknown else ""
                self.issues.append(
                    LoadIssue(
                        r.source,
                        r.line,
                        f"rule {r.name!r} skipped{how}: {exc.what} is not supported ({what} {exc})",
                        "info" if r.skip_if_unknown else "warning",
                    )
                )
                continue
            except _MacroError as exc:
                self._issue(r.source, r.line, f"rule {r.name!r}: {exc}")
                continue
            except ConditionError as exc:
                what = "output" if "in output" in exc.message else "condition"
                self._issue(r.source, r.line, f"rule {r.name!r}: {what} {exc}")
                continue
            except (RecursionError, SyntaxError, MemoryError, ValueError) as exc:
                # The last guard: what the depth bounds above did not foresee.
                why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
                self._issue(r.source, r.line, f"rule {r.name!r}: condition cannot compile: {why}")
                continue
            stats.loaded += 1
            types = event_types(node)
            out.append(
                CompiledRule(
                    r.name, r.desc, r.priority, priority_rank(r.priority), tuple(r.tags),
                    match, render, types, order, r.source, r.line, code, r.warn_evttypes,
                    fields_of(node),
                )
            )  # fmt: skip
        return out

    @property
    def errors(self) -> list[LoadIssue]:
        return [i for i in self.issues if i.severity == "error"]

    def _parse(self, text: str, cache: dict[str, Node], stack: list[str]) -> Node:
        def macro(name: str) -> Node | None:
            if name in cache:
                return cache[name]
            if name not in self.macros:
                return None
            if len(stack) >= MAX_DEPTH:
                raise _MacroError(f"macros nested more than {MAX_DEPTH} deep ({stack[0]!r} ...)")
            if name in stack:
                raise _MacroError(
                    f"macro {name!r} refers to itself ({' -> '.join([*stack, name])})"
                )
            cond, src, line = self.macros[name]
            try:
                node = self._parse(cond, cache, [*stack, name])
            except UnsupportedError as exc:
                where = f"{src} line {line}" if line else src
                raise UnsupportedError(
                    f"in macro {name!r} ({where}): {exc.message}", exc.pos, exc.what
                ) from None
            except ConditionError as exc:
                where = f"{src} line {line}" if line else src
                raise _MacroError(f"in macro {name!r} ({where}): condition {exc}") from None
            cache[name] = node
            return node

        return parse_condition(text, macro, self._list_items)

    def _list_items(self, name: str, depth: int = 0) -> list[str] | None:
        """A list's items with names of other lists expanded (Falco nests lists)."""
        items = self.lists.get(name)
        if items is None or depth > 20:
            return items
        out: list[str] = []
        for i in items:
            sub = self._list_items(i, depth + 1) if i in self.lists and i != name else None
            out.extend(sub if sub is not None else [_unquote(i)])
        return out

    def _exceptions(self, r: RuleDef) -> Node:
        parts: list[str] = []
        for i, exc in enumerate(r.exceptions):
            ename = exc.get("name", f"#{i + 1}")
            unknown = set(exc) - _EXC_KEYS
            if unknown:
                raise ConditionError(f"exception {ename!r}: unknown key(s) {sorted(unknown)}", 1)
            fields = exc.get("fields")
            comps = exc.get("comps")
            values = exc.get("values") or []
            single = isinstance(fields, str)
            flist = [fields] if single else list(fields or [])
            if not flist:
                raise ConditionError(f"exception {ename!r}: fields is required", 1)
            if comps is None:
                clist = ["in" if single else "="] * len(flist)
            else:
                clist = [comps] if isinstance(comps, str) else list(comps)
            if len(clist) != len(flist):
                raise ConditionError(f"exception {ename!r}: fields and comps differ in length", 1)
            for c in clist:
                if c not in SUPPORTED_OPS:
                    raise UnsupportedError(
                        f"exception {ename!r}: operator {c!r} is not supported", 1, c
                    )
            if single:
                values = [values] if clist[0] in LIST_OPS else [[v] for v in values]
            for tup in values:
                tup = tup if isinstance(tup, list) else [tup]
                if len(tup) != len(flist):
                    raise ConditionError(
                        f"exception {ename!r}: value {tup!r} needs {len(flist)} item(s)", 1
                    )
                checks = [
                    f"{f} {c} {_value_text(v, c)}"
                    for f, c, v in zip(flist, clist, tup, strict=True)
                ]
                parts.append("(" + " and ".join(checks) + ")")
        if not parts:
            return Const(False)  # no values: never excepts
        text = " or ".join(parts)
        try:
            return self._parse(text, {}, [])
        except UnsupportedError as exc:
            raise UnsupportedError(f"in exceptions: {exc.message}", exc.pos, exc.what) from None
        except ConditionError as exc:
            raise ConditionError(f"in exceptions ({text}): {exc.message}", exc.pos) from None


class _MacroError(Exception):
    pass


def _depth(node: Node) -> int:
    """How deep a condition tree goes (without recursion: it is what is being bounded)."""
    deepest, todo = 0, [(node, 1)]
    while todo:
        n, d = todo.pop()
        deepest = max(deepest, d)
        if isinstance(n, BoolOp):
            todo += [(c, d + 1) for c in n.items]
        elif isinstance(n, Not):
            todo.append((n.item, d + 1))
    return deepest


def _unquote(item: str) -> str:
    """Falco pastes list items into the condition, so a quoted item is a quoted string."""
    if len(item) >= 2 and item[0] == item[-1] and item[0] in "\"'":
        return re.sub(r"\\(.)", r"\1", item[1:-1])
    return item


def _quote(v: Any) -> str:
    s = str(v)
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value_text(v: Any, comp: str) -> str:
    if comp in LIST_OPS:
        if isinstance(v, list):
            return "(" + ", ".join(_quote(x) for x in v) + ")"
        return f"({v})"  # a list name or a single value
    return _quote(v)

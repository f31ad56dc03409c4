"""Read Falco-style rule files (a documented subset) into compiled rules.

Items are processed in order across files, as Falco does: `list`, `macro` and
`rule` define or (with `append: true` or `override:`) extend earlier items; a
rule item with only `enabled:` switches an existing rule. Every problem is
collected as a LoadIssue (file, line, message) instead of stopping at the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from tracehound.agent.event import parse_priority, priority_rank
from tracehound.filters._compile import (
    Matcher,
    OutputTemplate,
    compile_condition,
    compile_output,
)
from tracehound.filters._condition import (
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

_RULE_KEYS = frozenset(
    {
        "rule", "desc", "condition", "output", "priority", "tags", "enabled", "exceptions",
        "append", "override", "source", "warn_evttypes", "skip-if-unknown-filter",
        "capture", "capture_duration",
    }
)  # fmt: skip
_MACRO_KEYS = frozenset({"macro", "condition", "append", "override", "desc"})
_LIST_KEYS = frozenset({"list", "items", "append", "override", "desc"})
_EXC_KEYS = frozenset({"name", "fields", "comps", "values"})
# What `override:` may do to each key (Falco's rule loader).
_OVERRIDE: dict[str, dict[str, frozenset[str]]] = {
    "rule": {
        "append": frozenset({"condition", "output", "desc", "tags", "exceptions"}),
        "replace": frozenset(
            {
                "condition", "output", "desc", "priority", "tags", "exceptions", "enabled",
                "warn_evttypes", "skip-if-unknown-filter", "capture", "capture_duration",
            }
        ),
    },
    "macro": {"append": frozenset({"condition"}), "replace": frozenset({"condition"})},
    "list": {"append": frozenset({"items"}), "replace": frozenset({"items"})},
}  # fmt: skip

# The Falco rules engine version whose file format and fields this loader implements,
# and the plugins whose fields tracehound provides itself (container.* from ECS metadata).
ENGINE_VERSION = (0, 57, 0)
PROVIDED_PLUGINS = {"container": (0, 4, 0)}


@dataclass(slots=True)
class LoadIssue:
    source: str
    line: int | None
    message: str
    severity: str = "error"  # "error": the files do not load; "warning": a rule was skipped

    def __str__(self) -> str:
        where = self.source + (f" line {self.line}" if self.line else "")
        tag = "warning: " if self.severity == "warning" else ""
        return f"{where}: {tag}{self.message}"


@dataclass(slots=True)
class FileStats:
    """Per rule file: rules defined there that compiled, were disabled, were skipped."""

    loaded: int = 0
    disabled: int = 0
    skipped: int = 0


@dataclass(slots=True)
class RuleDef:
    name: str
    source: str
    line: int | None
    condition: str = ""
    output: str = ""
    desc: str = ""
    priority: str = "Warning"
    tags: list[str] = field(default_factory=list)
    enabled: bool = True
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    skip_if_unknown: bool = False
    warn_evttypes: bool = True
    foreign_source: bool = False  # a rule for another Falco source (k8s_audit, plugins)


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


# libyaml's parser when PyYAML has it (about 10x faster on a 200k-item list).
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_SafeLoader):
    """SafeLoader that records the line of each mapping under '__line__'."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    m = loader.construct_mapping(node, deep=True)
    m["__line__"] = node.start_mark.line + 1
    return m


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


# YAML 1.1 resolves a bare `=` to the "value" tag, and Falco files write `comps: [=, in]`.
def _construct_str(loader: _LineLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))


_LineLoader.add_constructor("tag:yaml.org,2002:value", _construct_str)


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k != "__line__"}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


class RuleLoader:
    def __init__(self) -> None:
        self.lists: dict[str, list[str]] = {}
        self.macros: dict[str, tuple[str, str, int | None]] = {}  # name -> (cond, source, line)
        self.rules: dict[str, RuleDef] = {}
        self.issues: list[LoadIssue] = []
        self.stats: dict[str, FileStats] = {}
        self.skipped: dict[str, str] = {}  # rule name -> why (unsupported field...)
        self._defined_in: dict[tuple[str, str], str] = {}  # (kind, name) -> source

    # ---- reading ----

    def add_text(self, text: str, source: str) -> None:
        try:
            docs = yaml.load(text, Loader=_LineLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            self.issues.append(LoadIssue(source, line, f"invalid YAML: {exc}"))
            return
        except RecursionError:
            self.issues.append(LoadIssue(source, None, "invalid YAML: nested too deeply"))
            return
        self.stats.setdefault(source, FileStats())
        if docs is None:
            return
        if not isinstance(docs, list):
            self.issues.append(LoadIssue(source, 1, "a rules file must be a YAML list of items"))
            return
        for item in docs:
            if not isinstance(item, dict):
                self.issues.append(LoadIssue(source, None, f"item is not a mapping: {item!r}"))
                continue
            line = item.pop("__line__", None)
            self._add_item(item, source, line)

    def _issue(self, source: str, line: int | None, msg: str) -> None:
        self.issues.append(LoadIssue(source, line, msg))

    def _add_item(self, item: dict[str, Any], source: str, line: int | None) -> None:
        for kind, keys in (("rule", _RULE_KEYS), ("macro", _MACRO_KEYS), ("list", _LIST_KEYS)):
            if kind in item:
                name = item[kind]
                if not isinstance(name, str) or not name:
                    self._issue(source, line, f"{kind} name must be a non-empty string")
                    return
                unknown = sorted(set(item) - keys)
                if unknown:
                    self._issue(
                        source,
                        line,
                        f"{kind} {name!r}: unknown key(s) {', '.join(unknown)} "
                        f"(known: {', '.join(sorted(keys))})",
                    )
                    return
                getattr(self, f"_add_{kind}")(name, _strip(item), source, line)
                return
        if "required_engine_version" in item:
            self._check_engine(item["required_engine_version"], source, line)
            return
        if "required_plugin_versions" in item:
            self._check_plugins(item["required_plugin_versions"], source, line)
            return
        self._issue(
            source, line, f"unknown item with keys {sorted(item)}: expected rule, macro or list"
        )

    def _check_engine(self, value: Any, source: str, line: int | None) -> None:
        want = _version(value)
        if want is None:
            self._issue(source, line, f"required_engine_version: {value!r} is not a version")
        elif want > ENGINE_VERSION:
            have = ".".join(map(str, ENGINE_VERSION))
            self._issue(
                source,
                line,
                f"required_engine_version {value} is newer than the Falco engine version "
                f"tracehound implements ({have})",
            )

    def _check_plugins(self, value: Any, source: str, line: int | None) -> None:
        if not isinstance(value, list):
            self._issue(source, line, "required_plugin_versions must be a list")
            return
        for req in value:
            if not isinstance(req, dict) or "name" not in req or "version" not in req:
                self._issue(source, line, f"required_plugin_versions: bad entry {_strip(req)!r}")
                continue
            choices = [req, *(a for a in req.get("alternatives") or [] if isinstance(a, dict))]
            if not any(_plugin_ok(c) for c in choices):
                names = ", ".join(f"{c.get('name')} {c.get('version')}" for c in choices)
                self._issue(
                    source,
                    line,
                    f"required plugin {names} is not available (tracehound provides: "
                    + ", ".join(f"{n} {'.'.join(map(str, v))}" for n, v in PROVIDED_PLUGINS.items())
                    + ")",
                )

    def _mode(self, item: dict[str, Any], key: str, source: str, line: int | None) -> str | None:
        """'append', 'replace' or None (plain definition) for one key of an item."""
        ov = item.get("override")
        if ov is not None:
            if not isinstance(ov, dict):
                self._issue(source, line, "override must be a mapping of key: append|replace")
                return None
            mode = ov.get(key)
            if mode is not None and mode not in ("append", "replace"):
                self._issue(source, line, f"override.{key} must be 'append' or 'replace'")
                return None
            return str(mode) if mode else None
        return "append" if item.get("append") is True else None

    def _check_override(self, kind: str, name: str, item: dict[str, Any], source: str,
                        line: int | None) -> bool:  # fmt: skip
        """Falco's rules for `override:`: known keys, allowed modes, each key present."""
        ov = item.get("override")
        if ov is None:
            return True
        where = f"{kind} {name!r}"
        if "append" in item:
            self._issue(source, line, f"{where}: use either append or override, not both")
            return False
        if not isinstance(ov, dict) or not ov:
            self._issue(source, line, f"{where}: override must be a mapping of key: append|replace")
            return False
        ok = True
        for key, mode in ov.items():
            allowed = _OVERRIDE[kind].get(str(mode))
            if allowed is None:
                self._issue(source, line, f"{where}: override.{key} must be 'append' or 'replace'")
                ok = False
            elif key not in allowed:
                self._issue(
                    source,
                    line,
                    f"{where}: key {key!r} cannot be overridden with {mode!r} "
                    f"(allowed: {', '.join(sorted(allowed))})",
                )
                ok = False
            elif key not in item:
                self._issue(source, line, f"{where}: override.{key} given but {key!r} is missing")
                ok = False
        for key in item:
            if key not in (kind, "override") and key not in ov:
                self._issue(source, line, f"{where}: key {key!r} is not listed under override")
                ok = False
        return ok

    def _check_dup(self, kind: str, name: str, source: str, line: int | None) -> None:
        if self._defined_in.get((kind, name)) == source:
            self._issue(source, line, f"duplicate {kind} name {name!r} in the same file")
        self._defined_in[(kind, name)] = source

    def _add_list(self, name: str, item: dict[str, Any], source: str, line: int | None) -> None:
        if not self._check_override("list", name, item, source, line):
            return
        items = item.get("items")
        if not isinstance(items, list) or not all(isinstance(i, str | int | float) for i in items):
            self._issue(source, line, f"list {name!r}: items must be a list of strings")
            return
        values = [str(i) for i in items]
        mode = self._mode(item, "items", source, line)
        if mode == "append":
            if name not in self.lists:
                self._issue(source, line, f"list {name!r}: append to a list that is not defined")
                return
            self.lists[name] = self.lists[name] + values
        else:
            if mode is None:
                self._check_dup("list", name, source, line)
            self.lists[name] = values

    def _add_macro(self, name: str, item: dict[str, Any], source: str, line: int | None) -> None:
        if not self._check_override("macro", name, item, source, line):
            return
        cond = item.get("condition")
        if not isinstance(cond, str) or not cond.strip():
            self._issue(source, line, f"macro {name!r}: condition must be a non-empty string")
            return
        mode = self._mode(item, "condition", source, line)
        if mode == "append":
            if name not in self.macros:
                self._issue(source, line, f"macro {name!r}: append to a macro that is not defined")
                return
            old, src, ln = self.macros[name]
            self.macros[name] = (f"{old} {cond}", src, ln)
        else:
            if mode is None:
                self._check_dup("macro", name, source, line)
            self.macros[name] = (cond, source, line)

    def _add_rule(self, name: str, item: dict[str, Any], source: str, line: int | None) -> None:
        def bad(msg: str) -> None:
            self._issue(source, line, f"rule {name!r}: {msg}")

        if not self._check_override("rule", name, item, source, line):
            return
        existing = self.rules.get(name)
        defining = "condition" in item and not (
            item.get("append") is True or self._mode(item, "condition", source, line)
        )
        if not defining:
            if existing is None:
                bad("changes a rule that is not defined (define it first with a condition)")
                return
            if "override" not in item and item.get("append") is not True:
                extra = sorted(set(item) - {"rule", "enabled"})
                if extra:
                    bad(
                        f"changes {', '.join(extra)} of a defined rule without override: "
                        "use override: {key: append|replace}, or only enabled:"
                    )
                    return
            self._modify_rule(existing, item, source, line)
            return
        missing = [k for k in ("condition", "output", "priority") if k not in item]
        if missing:
            bad(f"missing required key(s): {', '.join(missing)}")
            return
        self._check_dup("rule", name, source, line)
        r = RuleDef(name, source, line)
        if not self._set_rule_fields(r, item, bad):
            return
        # Redefinition in a later file replaces the rule but keeps its place.
        self.rules[name] = r

    def _set_rule_fields(
        self, r: RuleDef, item: dict[str, Any], bad: Callable[[str], None]
    ) -> bool:
        ok = True
        for key in ("condition", "output", "desc"):
            if key in item:
                if not isinstance(item[key], str):
                    bad(f"{key} must be a string")
                    ok = False
                else:
                    setattr(r, key, item[key].strip())
        if "priority" in item:
            try:
                r.priority = parse_priority(str(item["priority"]))
            except ValueError as exc:
                bad(str(exc))
                ok = False
        if "tags" in item:
            if not isinstance(item["tags"], list):
                bad("tags must be a list")
                ok = False
            else:
                r.tags = [str(t) for t in item["tags"]]
        if "enabled" in item:
            if not isinstance(item["enabled"], bool):
                bad("enabled must be true or false")
                ok = False
            else:
                r.enabled = item["enabled"]
        if "exceptions" in item:
            excs = item["exceptions"]
            if not isinstance(excs, list) or not all(isinstance(x, dict) for x in excs):
                bad("exceptions must be a list of mappings")
                ok = False
            else:
                r.exceptions = list(excs)
        for key, attr in (("skip-if-unknown-filter", "skip_if_unknown"),
                          ("warn_evttypes", "warn_evttypes")):  # fmt: skip
            if key in item:
                if not isinstance(item[key], bool):
                    bad(f"{key} must be true or false")
                    ok = False
                else:
                    setattr(r, attr, item[key])
        if "source" in item and item["source"] != "syscall":
            r.foreign_source = True  # other Falco sources (k8s_audit, plugins) are not ours
        return ok

    def _modify_rule(self, r: RuleDef, item: dict[str, Any], source: str, line: int | None) -> None:
        def bad(msg: str) -> None:
            self._issue(source, line, f"rule {r.name!r}: {msg}")

        legacy_append = item.get("append") is True
        keys = ("condition", "output", "desc", "priority", "tags", "exceptions", "enabled",
                "warn_evttypes", "skip-if-unknown-filter")  # fmt: skip
        for key in keys:
            if key not in item:
                continue
            appendable = ("condition", "exceptions", "output", "desc", "tags", "enabled")
            if legacy_append and key not in appendable:
                bad(f"append: true cannot change {key}; use override: {{{key}: replace}}")
                continue
            mode = "append" if legacy_append else (self._mode(item, key, source, line) or "replace")
            if key == "enabled" and not legacy_append and "override" not in item:
                mode = "replace"
            if mode == "append" and key in ("condition", "output", "desc"):
                if not isinstance(item[key], str):
                    bad(f"{key} must be a string")
                    continue
                setattr(r, key, f"{getattr(r, key)} {item[key].strip()}")
            elif mode == "append" and key == "tags":
                if not isinstance(item[key], list):
                    bad(f"{key} must be a list")
                    continue
                r.tags.extend(str(t) for t in item[key] if str(t) not in r.tags)
            elif mode == "append" and key == "exceptions":
                if not isinstance(item[key], list) or not all(
                    isinstance(x, dict) for x in item[key]
                ):
                    bad("exceptions must be a list of mappings")
                    continue
                _append_exceptions(r.exceptions, item[key], bad)
            else:
                self._set_rule_fields(r, {key: item[key]}, bad)

    # ---- compiling ----

    def compile(
        self,
        disabled: set[str] | frozenset[str] = frozenset(),
        disabled_tags: set[str] | frozenset[str] = frozenset(),
        floor: int = 7,
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
                match, code = compile_condition(node)
                render = compile_output(r.output)
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


def _version(value: Any) -> tuple[int, ...] | None:
    """'0.57.0' -> (0, 57, 0); an integer (Falco's old engine versions) N -> (0, N, 0)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (0, value, 0)
    parts = str(value).strip().split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    nums = tuple(int(p) for p in parts)
    return nums + (0,) * (3 - len(nums))


def _plugin_ok(req: dict[str, Any]) -> bool:
    have = PROVIDED_PLUGINS.get(str(req.get("name")))
    want = _version(req.get("version"))
    # Falco's rule: same major version, and at least the version asked for.
    return have is not None and want is not None and have[0] == want[0] and have >= want


def _append_exceptions(
    excs: list[dict[str, Any]], more: list[dict[str, Any]], bad: Callable[[str], None]
) -> None:
    """Falco's exceptions append: values join an exception of the same name, else add it."""
    by_name = {e.get("name"): e for e in excs}
    for new in more:
        old = by_name.get(new.get("name"))
        if old is None:
            excs.append(dict(new))
            by_name[new.get("name")] = excs[-1]
            continue
        for key in ("fields", "comps"):
            if key in new and new[key] != old.get(key):
                bad(f"exception {new.get('name')!r}: appending cannot change {key}")
        old["values"] = list(old.get("values") or []) + list(new.get("values") or [])


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

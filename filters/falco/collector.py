"""Collect a rules file's items: define, append, override, enable (Falco's rule loader).

Items are processed in order across files, as Falco does: `list`, `macro` and
`rule` define or (with `append: true` or `override:`) extend earlier items; a
rule item with only `enabled:` switches an existing rule. Every problem is
collected as a LoadIssue (file, line, message) instead of stopping at the first.
Nothing is compiled here (see compiler.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tracehound.event import parse_priority
from tracehound.filters.falco.reader import LoadIssue, _strip, read_items

_RULE_KEYS = frozenset(
    {
        "rule", "desc", "condition", "output", "priority", "tags", "enabled", "exceptions",
        "append", "override", "source", "warn_evttypes", "skip-if-unknown-filter",
        "capture", "capture_duration",
    }
)  # fmt: skip
_MACRO_KEYS = frozenset({"macro", "condition", "append", "override", "desc"})
_LIST_KEYS = frozenset({"list", "items", "append", "override", "desc"})
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


class RuleCollector:
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
        items, problem = read_items(text, source)
        if problem is not None:
            self.issues.append(problem)
            if problem.message.startswith("invalid YAML"):  # nothing was read
                return
        self.stats.setdefault(source, FileStats())
        for item, line in items:
            if "__not_a_mapping__" in item:
                self.issues.append(
                    LoadIssue(source, None, f"item is not a mapping: {item['__not_a_mapping__']!r}")
                )
                continue
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

"""Read a Falco rules file: YAML items with the line each starts on.

The first step of loading (reader -> collector -> compiler, as in Falco's rule
loader): a `files` entry becomes text (a path or builtin:NAME), the text becomes
a list of mappings, each with its line, or one LoadIssue that says why not.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml


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


Item = tuple[dict[str, Any], int | None]  # a mapping and the line it starts on


def read_items(
    text: str, source: str
) -> tuple[list[tuple[dict[str, Any], int | None]], LoadIssue | None]:
    """The file's items as (mapping, line); an issue instead when it is not a YAML list.
    A non-mapping item is reported through the issue list of the caller (see collector)."""
    try:
        docs = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        return [], LoadIssue(source, line, f"invalid YAML: {exc}")
    except RecursionError:
        return [], LoadIssue(source, None, "invalid YAML: nested too deeply")
    if docs is None:
        return [], None
    if not isinstance(docs, list):
        return [], LoadIssue(source, 1, "a rules file must be a YAML list of items")
    out: list[Item] = []
    for item in docs:
        if isinstance(item, dict):
            out.append((item, item.pop("__line__", None)))
        else:
            out.append(({"__not_a_mapping__": item}, None))
    return out, None

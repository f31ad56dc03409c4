"""Map dotted key paths of a TOML document to the line that sets them.

tomllib does not keep positions, and error messages are only useful with a line,
so this scans the source once: table headers set the prefix, `key = value`
lines (dotted and quoted keys included) add an entry. Good enough for the files
people write by hand; a key it cannot place simply has no line.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)


def _split_key(key: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", key)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def key_lines(source: str) -> dict[tuple[str, ...], int]:
    lines: dict[tuple[str, ...], int] = {}
    prefix: tuple[str, ...] = ()
    array_counts: dict[tuple[str, ...], int] = {}
    for lineno, line in enumerate(source.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            prefix = tuple(_split_key(header.group(1)))
            if line.lstrip().startswith("[["):
                idx = array_counts.get(prefix, 0)
                array_counts[prefix] = idx + 1
                prefix = (*prefix, str(idx))
            lines.setdefault(prefix, lineno)
            continue
        key = _KEY.match(line)
        if key:
            path = (*prefix, *_split_key(key.group(1)))
            # A dotted key also opens its tables (`auth.strategy` places `auth`), so
            # a key missing from such a table gets the line where the table starts.
            for end in range(len(prefix) + 1, len(path) + 1):
                lines.setdefault(path[:end], lineno)
    return lines


def line_of(lines: dict[tuple[str, ...], int], path: tuple[str, ...]) -> int | None:
    """The line of the longest known prefix of `path`."""
    for end in range(len(path), 0, -1):
        found = lines.get(path[:end])
        if found is not None:
            return found
    return None

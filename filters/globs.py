"""Path globs compiled to regular expressions.

`*` and `?` stay within one path component, `**` crosses components, `[...]`
is a character class (`[!...]` negated). A glob is absolute or starts with `**`.
"""

from __future__ import annotations

import re


def glob_error(glob: str) -> str | None:
    """Why `glob` is not usable, or None."""
    if not glob:
        return "empty glob"
    if not (glob.startswith("/") or glob.startswith("**")):
        return "must be an absolute path or start with **"
    try:
        re.compile(glob_to_regex(glob))
    except ValueError as exc:
        return str(exc)
    except re.error as exc:
        return f"invalid pattern ({exc})"
    return None


def glob_to_regex(glob: str) -> str:
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("/**", i) and i + 3 == n:
            out.append("(?:/.*)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = glob.find(
                "]", i + 2 if glob.startswith("[!", i) or glob.startswith("[]", i) else i + 1
            )
            if j == -1:
                raise ValueError(f"unbalanced '[' at position {i + 1}")
            body = glob[i + 1 : j]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = j + 1
        elif c == "]":
            raise ValueError(f"unbalanced ']' at position {i + 1}")
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def first_literal_component(glob: str) -> str | None:
    """'proc' for '/proc/*/environ'; None when the first component has wildcards."""
    if not glob.startswith("/"):
        return None
    first = glob[1:].split("/", 1)[0]
    if not first or any(ch in first for ch in "*?["):
        return None
    return first

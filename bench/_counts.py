"""Counting syscalls: strace's output, tracehound's records, the tracer's stats line.

strace lines look like
    1234  openat(0xffffff9c, "/etc/hosts", 0x80000) = 3
    1234  read(3, <unfinished ...>
    1234  <... read resumed>"...", 4096) = 12
    1234  +++ exited with 0 +++
A syscall is counted once, on the line that starts it; resumed, signal and exit
lines are not syscalls.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_START = re.compile(r"^\d+\s+(\w+)\((.*)$")
STATS_PREFIX = "tracehound: tracer stats "
ELAPSED_PREFIX = "bench-elapsed "

ArgPredicate = Callable[[list[str]], bool]


def split_args(text: str) -> list[str]:
    """Top-level comma split of strace's argument text (quotes, [], {} respected)."""
    out, cur, depth, quoted, esc = [], [], 0, False, False
    for ch in text:
        if quoted:
            cur.append(ch)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                quoted = False
            continue
        if ch == '"':
            quoted = True
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            if depth == 0:  # the call's closing parenthesis
                break
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    tail = "".join(cur).strip()
    if tail:
        out.append(tail.removesuffix("<unfinished ...>").strip())
    return out


def _int(tok: str) -> int | None:
    try:
        return int(tok, 0)
    except ValueError:
        return None


def arg_checks(profile: str) -> dict[str, ArgPredicate]:
    """The tracer's BPF argument checks for a profile, as predicates over strace -X raw args."""
    from tracehound.agent.tracer.profiles import WRITE_ONLY_OPENS
    from tracehound.agent.tracer.seccomp import DUP_ONTO_STDIO, OPEN_FOR_WRITE

    checks = dict(DUP_ONTO_STDIO)
    if profile in WRITE_ONLY_OPENS:
        checks.update(OPEN_FOR_WRITE)
    preds: dict[str, ArgPredicate] = {}
    for name, chk in checks.items():
        preds[name] = _predicate(chk.arg, chk.below, chk.mask)
    return preds


def _predicate(arg: int, below: int, mask: int) -> ArgPredicate:
    # Same semantics as the BPF: low 32 bits of the argument, unsigned.
    def pred(args: list[str]) -> bool:
        v = _int(args[arg]) if arg < len(args) else None
        if v is None:
            return True  # cannot tell: count it, a mismatch will show
        v &= 0xFFFFFFFF
        return bool(v & mask) if mask else v < below

    return pred


def strace_counts(
    path: Path, names: Iterable[str], checks: dict[str, ArgPredicate] | None = None
) -> Counter[str]:
    """Syscalls among `names` started in strace's output file, after argument checks."""
    wanted, checks = frozenset(names), checks or {}
    counts: Counter[str] = Counter()
    with open(path, errors="replace") as f:
        for line in f:
            m = _START.match(line)
            if not m or m.group(1) not in wanted:
                continue
            name = m.group(1)
            pred = checks.get(name)
            if pred is None or pred(split_args(m.group(2))):
                counts[name] += 1
    return counts


def record_counts(path: Path) -> tuple[Counter[str], int]:
    """(events per evt.type, number of alerts) in a file sink's JSON lines."""
    events: Counter[str] = Counter()
    alerts = 0
    if not path.exists():
        return events, 0
    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            if "rule" in rec:  # an alert repeats an event: count it apart
                alerts += 1
                continue
            events[rec.get("output_fields", {}).get("evt.type", "?")] += 1
    return events, alerts


CPU_PREFIX = "tracehound: cpu stats "


def cpu_stats(stderr: str) -> dict[str, Any] | None:
    """The agent's `tracehound: cpu stats {...}` line (printed with TRACEHOUND_CPU_STATS=1)."""
    found = None
    for line in stderr.splitlines():
        if line.startswith(CPU_PREFIX):
            with contextlib.suppress(json.JSONDecodeError):
                found = json.loads(line[len(CPU_PREFIX) :])
    return found


def tracer_stats(stderr: str) -> dict[str, Any] | None:
    """The last `tracehound: tracer stats {...}` line on the agent's stderr."""
    found = None
    for line in stderr.splitlines():
        if line.startswith(STATS_PREFIX):
            try:
                found = json.loads(line[len(STATS_PREFIX) :])
            except json.JSONDecodeError:
                continue
    return found


def elapsed(stderr: str) -> float | None:
    for line in reversed(stderr.splitlines()):
        if line.startswith(ELAPSED_PREFIX):
            return float(line[len(ELAPSED_PREFIX) :])
    return None

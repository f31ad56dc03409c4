"""An execve whose outcome is not known yet, and how /proc tells it without ptrace.

With ptrace the kernel confirms every exec (PTRACE_EVENT_EXEC). Without it, the
process table (proctable.py) compares what the process runs now with what the
execve asked for: at the process's first stop after the exec (the core's look at
/proc, an observed exec record), or, for a program that makes no traced syscall,
from /proc after EXEC_SETTLE_NS, waiting longer while the exec'ing thread may still
be inside its execve.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

EXEC_SETTLE_NS = 100_000_000  # without ptrace: settle an execve this long after it
# ... unless its thread may still be inside it (a slow exec: a cold or network file
# system, a throttled container): then wait, up to this long.
EXEC_SETTLE_MAX_NS = 5_000_000_000


@dataclasses.dataclass(slots=True)
class Pending:
    """An execve whose outcome is not known yet."""

    ts: int
    etype: str
    tid: int
    fields: dict[str, Any]
    nr: int = -1  # the syscall number, as /proc/TID/syscall shows it
    # When the pipeline got it: a backlog must not make it look old before the
    # process's next stop could even be handed over.
    seen: int = dataclasses.field(default_factory=time.time_ns)


def ran(now: tuple[str, ...], p: Pending) -> bool:
    """A process's argv (/proc) is what the pending execve asked for, directly or
    through a script's #! line (interpreter, optional argument, the script's path,
    then the rest of argv)."""
    argv = tuple(p.fields.get("argv", ()))
    if not now:
        return False
    if now == argv:
        return True
    k = len(now) - max(len(argv), 1)  # where the script's path is, after the #! words
    path = p.fields.get("fd.name", "")
    return (
        k in (1, 2)
        and now[k + 1 :] == argv[1:]
        and os.path.basename(now[k]) == os.path.basename(path)
    )


def took_effect(pid: int, p: Pending) -> bool:
    """Process `pid` runs now what the execve asked for (read from /proc)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read().decode("utf-8", "surrogateescape")
    except OSError:
        return False
    return ran(tuple(raw.split("\0")[:-1]), p)


def in_exec(pid: int, p: Pending) -> bool:
    """The thread that called the execve may still be inside it (the kernel is
    loading the program, or waiting for the other threads to go): it is running, or
    blocked in that syscall, or we may not look (then we cannot tell)."""
    try:
        with open(f"/proc/{pid}/task/{p.tid}/syscall", "rb") as f:
            first = f.read().split(b" ", 1)[0].strip()
    except (FileNotFoundError, ProcessLookupError):
        return False  # gone: the exec is done (or the process is)
    except OSError:
        return True
    return first == b"running" or first == str(p.nr).encode()

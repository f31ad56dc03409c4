"""The event model shared by the tracer, the stage chain and the sinks.

The tracer creates one `Event` per traced syscall (or per confirmed exec). It
carries a reference to an immutable `ProcInfo` snapshot, so events that sit in a
batch for a few milliseconds still describe the process as it was when the
syscall happened, even if the process has exec'd since.

Field names follow Falco (https://falco.org/docs/reference/rules/supported-fields/),
so rules and SIEM parsers written for Falco read our records unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Falco's priorities, most severe first. Index = severity rank (lower = worse).
PRIORITIES: tuple[str, ...] = (
    "Emergency",
    "Alert",
    "Critical",
    "Error",
    "Warning",
    "Notice",
    "Informational",
    "Debug",
)
_PRIORITY_ALIASES = {"info": "Informational"}


def parse_priority(name: str) -> str:
    """Return Falco's canonical spelling of a priority name (case-insensitive, 'info' accepted)."""
    low = name.strip().lower()
    if low in _PRIORITY_ALIASES:
        return _PRIORITY_ALIASES[low]
    for p in PRIORITIES:
        if p.lower() == low:
            return p
    raise ValueError(f"unknown priority {name!r} (expected one of {', '.join(PRIORITIES)})")


def priority_rank(name: str) -> int:
    """Lower is more severe: Emergency=0 ... Debug=7."""
    return PRIORITIES.index(parse_priority(name))


@dataclass(slots=True, frozen=True)
class ProcFacts:
    """What the tracer read from /proc/PID at exec (or when it first saw the
    process), while the process was surely there: the raw texts rules need."""

    status: str | None = None
    stat: str | None = None
    loginuid: str | None = None
    environ: bytes | None = None
    exe_stat: tuple[int, int, int] | None = None  # inode, ctime ns, mtime ns


@dataclass(slots=True, frozen=True)
class ProcInfo:
    """What we know about a process (thread group) at one point in time.

    Replaced, never mutated: exec, a uid change or a new cwd produce a new
    snapshot, so older events keep describing the process as it was.
    """

    pid: int  # thread group id (Falco proc.pid)
    ppid: int
    name: str  # comm: basename of the executed file, at most 15 chars like the kernel
    exepath: str  # full path of the executable (Falco proc.exepath)
    argv: tuple[str, ...]  # argv[0] included
    cwd: str
    uid: int
    gid: int
    parent: ProcInfo | None = None  # parent's snapshot when this one was made
    facts: ProcFacts | None = None  # /proc read at exec; None for a forked copy
    # The record fields of this snapshot, built once (see tracehound.record.proc_fields).
    record_cache: dict[str, Any] | None = field(default=None, init=False, compare=False, repr=False)
    # Process-level values read from /proc on first use by a rule or an output
    # (capabilities, loginuid, tty, environment...; see filters/falco/procfs.py).
    proc_cache: Any = field(default=None, init=False, compare=False, repr=False)
    cmdline_cache: str | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def args(self) -> str:
        """Falco proc.args: the arguments without argv[0], space-joined."""
        return " ".join(self.argv[1:])

    @property
    def cmdline(self) -> str:
        """Falco proc.cmdline: name followed by the arguments (joined once per snapshot)."""
        c = self.cmdline_cache
        if c is None:
            c = " ".join((self.name, *self.argv[1:]))
            object.__setattr__(self, "cmdline_cache", c)  # a cache, not state
        return c

    def ancestor(self, level: int) -> ProcInfo | None:
        """proc.aname[level]: level 0 is self, 1 the parent, 2 the grandparent..."""
        p: ProcInfo | None = self
        for _ in range(level):
            if p is None:
                return None
            p = p.parent
        return p


@dataclass(slots=True)
class Event:
    """One observed syscall (or lifecycle event) of one thread.

    `fields` holds only the syscall-specific Falco fields (fd.name, evt.arg.flags,
    fd.sip, ...); process fields come from `proc`. `tags` is filled by filters
    (for example "sensitive_path").
    """

    ts: int  # ns since the epoch (time.time_ns()) at the stop
    type: str  # evt.type: the syscall name, normalised across architectures
    tid: int
    proc: ProcInfo
    fields: dict[str, Any]
    tags: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Alert:
    """An event plus a verdict: what a rule (or the baseline) concluded."""

    event: Event
    rule: str
    priority: str
    output: str  # the rendered message; records prefix it with evt.time and the priority
    tags: tuple[str, ...] = ()
    uuid: str = ""
    # The values of the fields the rule's output names (Falco's output_fields), or None.
    output_fields: dict[str, Any] | None = None

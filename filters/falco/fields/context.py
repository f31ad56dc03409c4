"""The state field helpers read, one object per stage chain (never a module global,
so two chains in one process do not share it): the files written during this run,
user names, whether the container is privileged, and the task's metadata."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from tracehound.event import Event
from tracehound.families import CREATE, OPEN
from tracehound.openflags import O_ACCMODE
from tracehound.task import TaskInfo


def is_open_write(e: Event) -> bool:
    """An open asking for write access (creat always does)."""
    if e.type not in OPEN:
        return False
    if e.type == "creat":
        return True
    flags = e.fields.get("evt.arg.flags")
    # is_write(flags), inlined: the stages call this for every open.
    return flags.__class__ is int and 0 < flags & O_ACCMODE < O_ACCMODE


class WrittenFiles:
    """Paths opened for writing during this run (bounded): proc.is_exe_upper_layer.

    In a container, a file written after start lives in the overlay's upper layer,
    which is what Falco's field means; we see the write itself, so we use that.
    """

    def __init__(self, max_entries: int = 65536) -> None:
        self._paths: OrderedDict[str, None] = OrderedDict()
        self._max = max_entries
        # Changes whenever membership changes: a verdict that read this set holds
        # while the version it was made at is current (RuleEngine.run_cached).
        self.version = 0

    def add(self, path: str) -> None:
        if path not in self._paths:
            self.version += 1
        self._paths[path] = None
        self._paths.move_to_end(path)
        if len(self._paths) > self._max:
            self._paths.popitem(last=False)

    def __contains__(self, path: object) -> bool:
        return path in self._paths

    def observe(self, e: Event) -> bool:
        """Learn a write; True when `e` is one (whether or not its name was readable)."""
        if is_open_write(e) or e.type in CREATE:
            name = e.fields.get("fd.name")
            if isinstance(name, str):
                self.add(name)
            return True
        return False


@dataclass(slots=True)
class FieldContext:
    task: TaskInfo = field(default_factory=TaskInfo)
    users: dict[int, str] = field(default_factory=dict)  # uid -> name: user.loginname, uid = NAME
    written: WrittenFiles = field(default_factory=WrittenFiles)
    privileged: bool = False  # container.privileged (see container.detect_privileged)

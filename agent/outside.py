"""Processes in the container that are not below the application: a shell from ECS Exec
(`aws ecs execute-command`: the SSM agent starts it inside the container), `docker exec`,
or a sidecar's process with `pidMode: task`. The tracer never sees them start.

Every `interval` the scanner lists /proc (the agent's pid namespace) and looks at each
new process once: one whose parent chain reaches the agent is the application's (or
ours); one whose chain ends elsewhere (at 0: its parent is outside the namespace) was
entered from outside. Such a process is
- with ptrace: seized by the capture core (Core.adopt), which then follows it and its
  children under PTRACE_SYSCALL with the application's own syscall selection: every
  program they run, file they open, address they connect to is an event tagged
  `outside_tree`, however short-lived they are once adopted;
- without ptrace: reported as an execve event read from /proc (tagged the same), and
  looked at again each scan, so a later exec of the same process is reported too;
  children that live shorter than the interval are missed.

Scanning is on when the agent is PID 1 of its pid namespace (it is the container's
entrypoint, so everything else in /proc entered from outside), or when configured.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from tracehound.agent.tracer.proctable import OUTSIDE_TAG
from tracehound.event import Event, ProcInfo

log = logging.getLogger("tracehound")

_MAX_DEPTH = 64  # parent links followed at most (a loop in /proc cannot hold us)


@dataclass(slots=True)
class _Seen:
    start: int  # starttime: a reused pid is a new process
    kind: str  # "tree", "covered" (below a process we follow), "outside"
    exe: str = ""  # outside without ptrace: what it ran when last looked at
    argv: tuple[str, ...] = ()
    scan: int = 0  # the scan that adopted it


def _stat(pid: int) -> tuple[int, int, str] | None:
    """(ppid, starttime, state) from /proc/PID/stat, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    rest = raw[raw.rfind(")") + 2 :].split()  # comm may hold spaces and parentheses
    try:
        return int(rest[1]), int(rest[19]), rest[0]
    except (IndexError, ValueError):
        return None


def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "surrogateescape")
    except OSError:
        return ""


def proc_info(pid: int, ppid: int) -> ProcInfo | None:
    """What /proc shows of a process; None for a kernel thread or one already gone."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None
    argv = tuple(_read(f"/proc/{pid}/cmdline").split("\0")[:-1])
    if not argv:
        return None
    status = dict(
        (k, v.strip())
        for k, _, v in (line.partition(":") for line in _read(f"/proc/{pid}/status").splitlines())
    )
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        cwd = "."
    return ProcInfo(
        pid=pid,
        ppid=ppid,
        name=_read(f"/proc/{pid}/comm").strip()[:15] or os.path.basename(exe)[:15],
        exepath=exe,
        argv=argv,
        cwd=cwd,
        uid=int((status.get("Uid") or "0 0").split()[1]),
        gid=int((status.get("Gid") or "0 0").split()[1]),
    )


def enabled(mode: str) -> bool:
    return mode == "on" or (mode == "auto" and os.getpid() == 1)


class OutsideScanner:
    """scan() once per interval, from the event loop."""

    def __init__(
        self,
        agent_pid: int,
        adopt: Callable[[int], bool],
        emit: Callable[[Event], None],
    ) -> None:
        self.agent_pid = agent_pid
        self.adopt = adopt  # Core.adopt: True when the core will follow it
        self.emit = emit  # without ptrace: hand an event to the pipeline
        self.seen: dict[int, _Seen] = {}
        self.found = 0  # processes found outside the tree
        self.scans = 0

    def _kind(self, pid: int, ppid: int) -> str:
        p, depth = ppid, 0
        while depth < _MAX_DEPTH:
            if p == self.agent_pid:
                return "tree"
            if p == 0:
                return "outside"
            known = self.seen.get(p)
            if known is not None and known.kind != "tree":
                # Below a process we follow with ptrace: the core reports it already,
                # unless it was forked before we took its parent (in this very scan).
                if known.kind == "covered" or (known.kind == "adopted" and known.scan < self.scans):
                    return "covered"
                return "outside"
            st = _stat(p)
            if st is None:
                return "outside"  # parent gone: reparented soon; not the agent's
            p, depth = st[0], depth + 1
        return "outside"

    def scan(self) -> None:
        self.scans += 1
        try:
            names = os.listdir("/proc")
        except OSError:
            return
        pids = {int(n) for n in names if n.isdigit()}
        for gone in self.seen.keys() - pids:
            del self.seen[gone]
        for pid in sorted(pids):  # parents first, mostly: their children follow them
            if pid == self.agent_pid:
                continue
            st = _stat(pid)
            if st is None or st[2] == "Z":
                continue
            ppid, start, _ = st
            known = self.seen.get(pid)
            if known is not None and known.start == start:
                if known.kind == "outside":
                    self._look_again(pid, ppid, known)
                continue
            kind = self._kind(pid, ppid)
            seen = _Seen(start, kind)
            self.seen[pid] = seen
            if kind != "outside":
                continue
            info = proc_info(pid, ppid)
            if info is None:  # a kernel thread, or gone
                seen.kind = "tree"
                continue
            self.found += 1
            log.debug("found pid %d outside the application: %s", pid, " ".join(info.argv)[:200])
            if self.adopt(pid):
                seen.kind, seen.scan = "adopted", self.scans
                continue
            seen.exe, seen.argv = info.exepath, info.argv
            self._report(info)

    def _look_again(self, pid: int, ppid: int, seen: _Seen) -> None:
        """Without ptrace: an outside process that exec'd since the last look."""
        info = proc_info(pid, ppid)
        if info is None or (info.exepath, info.argv) == (seen.exe, seen.argv):
            return
        seen.exe, seen.argv = info.exepath, info.argv
        self._report(info)

    def _report(self, info: ProcInfo) -> None:
        parent = self.seen.get(info.ppid)
        pinfo = proc_info(info.ppid, 0) if parent is not None and info.ppid else None
        if pinfo is not None:
            info = ProcInfo(
                info.pid, info.ppid, info.name, info.exepath, info.argv, info.cwd,
                info.uid, info.gid, parent=pinfo,
            )  # fmt: skip
        fields = {"fd.name": info.exepath, "evt.res": 0}
        self.emit(Event(time.time_ns(), "execve", info.pid, info, fields, {OUTSIDE_TAG}))

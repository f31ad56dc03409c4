"""Turn the core's records into Events: the process table and the lifecycle.

Runs on the pipeline's side, in batches. It keeps one ProcInfo snapshot per
process (thread group) and the thread -> process map, applies the lifecycle
records the core sends (new task, exec, exit) and attaches the right snapshot
to each syscall event.

An execve is reported once its outcome is known: confirmed by the exec record
(PTRACE_EVENT_EXEC), failed when the same thread makes another syscall or exits
first. Without ptrace there are no lifecycle records: a process is read from
/proc when first seen, and an execve is settled by the core's look at /proc at
the process's first stop after the exec (an observed exec record), as failed by
the exec'ing thread's next syscall, or from /proc after EXEC_SETTLE_NS (see
settle_execs).
"""

from __future__ import annotations

import dataclasses
import os
import struct
import time
from typing import Any, Protocol

from tracehound.agent.tracer import truth
from tracehound.agent.tracer import wire as R
from tracehound.agent.tracer._ptrace import (
    AUDIT_ARCH_AARCH64,
    AUDIT_ARCH_I386,
    AUDIT_ARCH_X86_64,
)
from tracehound.agent.tracer._ptrace import X32_SYSCALL_BIT as X32_BIT
from tracehound.agent.tracer.decode import DECODERS, generic
from tracehound.agent.tracer.pending import (
    EXEC_SETTLE_MAX_NS,
    EXEC_SETTLE_NS,
    Pending,
    in_exec,
    ran,
    took_effect,
)
from tracehound.agent.tracer.skips import ExitSkips
from tracehound.agent.tracer.specs import (
    SETID,
    T_CMDLINE,
    T_COMM,
    T_CWD,
    T_ENTRYKEY,
    T_ENVIRON,
    T_EXE,
    T_EXESTAT,
    T_IDS,
    T_LOGINUID,
    T_STAT,
    T_STATUS,
)
from tracehound.agent.tracer.syscalls import TABLES
from tracehound.event import Event, ProcFacts, ProcInfo
from tracehound.families import EXEC as _EXEC

OUTSIDE_TAG = "outside_tree"  # events of processes outside the tree (agent/outside.py)
DECODED_MAX = 4096  # decoded records remembered (feed); forgotten all at once when full
_IMMUTABLE = (str, int, float, bool, bytes, tuple, type(None))


class Relevance(Protocol):
    """Which events can make a difference downstream (the stage chain, StageChain.matters).

    `epoch` changes when an earlier answer may no longer hold; `teaches(e)`: handing `e`
    over will change it; `taught`: how many such events the chain has processed."""

    @property
    def epoch(self) -> int: ...

    @property
    def taught(self) -> int: ...

    def matters(self, e: Event) -> bool: ...

    def teaches(self, e: Event) -> bool: ...


def _reusable(fields: dict[str, Any]) -> bool:
    """Fields that can be shared as a template: values nobody can change in place."""
    return all(v.__class__ in _IMMUTABLE for v in fields.values())


def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "surrogateescape")
    except OSError:
        return ""


def _status(tid: int) -> dict[str, str]:
    out = {}
    for line in _read(f"/proc/{tid}/status").splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def _link(path: str, default: str = "") -> str:
    try:
        return os.readlink(path)
    except OSError:
        return default


def _facts(r: R.Raw) -> ProcFacts:
    def text(tag: int) -> str | None:
        raw = r.blob(tag)
        return None if raw is None else raw.decode("utf-8", "replace")

    exe = r.blob(T_EXESTAT)
    return ProcFacts(
        status=text(T_STATUS),
        stat=text(T_STAT),
        loginuid=text(T_LOGINUID),
        environ=r.blob(T_ENVIRON),
        exe_stat=struct.unpack("<3Q", exe) if exe and len(exe) == 24 else None,
    )


_GUARD_TAGS = (
    (R.FLAG_DENIED, "refused"),  # the agent's guard refused the call
    (R.FLAG_UNREADABLE, "unreadable"),  # the tracee's memory could not be read
    (R.FLAG_UNTRACED, "untraced_clone"),  # CLONE_UNTRACED asked for, and cleared
    (R.FLAG_RACED, "path_changed"),  # a skipped open's path was rebound while it ran
)


_GUARD_FLAGS = R.FLAG_DENIED | R.FLAG_UNREADABLE | R.FLAG_UNTRACED | R.FLAG_RACED


def _guard_tags(flags: int) -> set[str]:
    """What the agent's guard saw at the stop, as tags (rules test evt.tags)."""
    return {t for bit, t in _GUARD_TAGS if flags & bit}


class ProcessTable:
    def __init__(self, root: ProcInfo, lifecycle: bool) -> None:
        """`root`: the application's first process; `lifecycle`: ptrace records come."""
        self.procs: dict[int, ProcInfo] = {root.pid: root}
        self.tgid_of: dict[int, int] = {root.pid: root.pid}
        self.pending: dict[int, Pending] = {}  # by tid (by pid without lifecycle)
        self.lifecycle = lifecycle
        self.processes = 1
        self.outside: set[int] = set()  # processes found outside the tree, and their children
        # Syscall records decoded so far, by content_key (see feed): [evt.type, fields,
        # and, with `relevance`, the snapshot and epoch of its verdict, and the verdict].
        self._decoded: dict[bytes, list[Any]] = {}
        # The stage chain, when no sink takes events: which events can matter at all.
        self.relevance: Relevance | None = None
        self.filtered = 0  # events that cannot matter: counted, never handed over
        self.teaching = 0  # events handed over that relevance.teaches (see _judge)
        self.skips: ExitSkips | None = None  # with relevance: verdicts for the core
        x86 = dict(TABLES["x86_64"])
        x86.update({nr | X32_BIT: n for nr, n in TABLES["x32"].items()})
        self.names = {
            AUDIT_ARCH_X86_64: x86,
            AUDIT_ARCH_I386: TABLES["i386"],
            AUDIT_ARCH_AARCH64: TABLES["aarch64"],
        }

    # --- records -> events -------------------------------------------------

    def feed(self, data: bytes, out: list[Event]) -> None:
        decoded = self._decoded
        off, end = 0, len(data)
        while off < end:
            length, kind, flags = R.peek(data, off)
            if kind == R.KIND_SYSCALL:
                # A record equal to one decoded before (but for its thread and time)
                # decodes to equal fields: copy them instead of decoding again.
                key = R.content_key(data, off, length)
                hit = decoded.get(key)
                if hit is not None:
                    tid, ts = R.tid_ts(data, off)
                    self._known(tid, ts, flags, hit, out)
                else:
                    self._syscall(R.record_at(data, off), out, key)
            else:
                r = R.record_at(data, off)
                if kind == R.KIND_NEW_TASK:
                    self._new_task(r.tid, r.args[0], bool(r.args[1]), r if r.args[2] else None)
                    if r.args[2] == 2:  # seized outside the tree: report what it runs
                        self._found_outside(r.tid, r.ts, out)
                elif kind == R.KIND_EXEC:
                    self._exec(r, out)
                elif kind == R.KIND_EXIT:
                    self._exit(r.tid, out)
            off += length

    def _known(self, tid: int, ts: int, flags: int, hit: list[Any], out: list[Event]) -> None:
        """_syscall() for a record whose fields were decoded before (no exec, no id change)."""
        tgid = self.tgid_of.get(tid) or self._adopt(tid)
        key = tid if self.lifecycle else tgid
        if key in self.pending and (self.lifecycle or tid == self.pending[key].tid):
            self._settle(key, out)  # the same rule as in _syscall
        proc = self.procs[tgid]
        rel = self.relevance
        if rel is not None and hit[2] is proc and hit[3] == rel.epoch:
            if hit[4] and self.teaching == rel.taught:
                self.filtered += 1  # an equal event of this snapshot did not matter
                return
            self.teaching += hit[5]
            rel = None  # hand it over
        event = Event(ts, hit[0], tid, proc, dict(hit[1]), self._tags(tgid))
        if flags & (_GUARD_FLAGS):
            event.tags.update(_guard_tags(flags))
        if rel is not None and not self._judge(event, hit):
            return
        out.append(event)

    def _judge(self, event: Event, hit: list[Any] | None) -> bool:
        """Ask `relevance` about an event (and remember the answer in `hit`, for its
        repeats by the same process snapshot in the same epoch). True: hand it over.
        While a write handed over earlier has not reached the chain yet (teaching !=
        taught), the chain's answer could be stale: everything is handed over."""
        rel = self.relevance
        assert rel is not None
        teaches = rel.teaches(event)
        if self.teaching != rel.taught:
            self.teaching += teaches
            return True
        matters = rel.matters(event)
        if hit is not None:
            hit[2:6] = [event.proc, rel.epoch, not matters, teaches]
        if not matters:
            self.filtered += 1
            return False
        self.teaching += teaches
        return True

    def _syscall(self, r: R.Raw, out: list[Event], content: bytes | None = None) -> None:
        """One syscall record; `content`: its content_key, to remember what it decodes to."""
        tid = r.tid
        tgid = self.tgid_of.get(tid) or self._adopt(tid)
        key = tid if self.lifecycle else tgid
        # Without ptrace, another thread's syscall (the leader's too) may come from
        # before the exec was done: only the exec'ing thread going on says it failed.
        # Success is the core's observed exec record, before the new program's stop.
        if key in self.pending and (self.lifecycle or tid == self.pending[key].tid):
            self._settle(key, out)
        table = self.names.get(r.arch)
        name = table.get(r.nr) if table is not None else None
        if name is None:
            etype = f"syscall_{r.nr}"
            fields = generic(r)
            fields["evt.arg.arch"] = hex(r.arch)
        else:
            etype = name
            fields = DECODERS.get(name, generic)(r)
        ids = r.blob(T_IDS)
        if r.has_result:
            fields["evt.res"] = r.res
            if name in SETID and r.res == 0 and ids:
                self._set_ids(tgid, ids, r.blob(T_STATUS))
        elif ids:  # without ptrace: the ids read at the first stop after a setuid
            self._set_ids(tgid, ids, r.blob(T_STATUS))
        if name in _EXEC:
            self.pending[key] = Pending(r.ts, etype, tid, fields, r.nr)
            return
        hit = None
        if self.skips is not None and r.blob(T_ENTRYKEY) is not None:
            content = None  # not reused: equal repeats must be offered again (skips.py)
        if content is not None and ids is None and name not in SETID and _reusable(fields):
            if len(self._decoded) >= DECODED_MAX:
                self._decoded.clear()
            # a copy: the stages add to `fields`
            hit = self._decoded[content] = [etype, dict(fields), None, 0, False, False]
        event = Event(r.ts, etype, tid, self.procs[tgid], fields, self._tags(tgid))
        if r.flags & (_GUARD_FLAGS):
            event.tags.update(_guard_tags(r.flags))
        rel = self.relevance
        if rel is not None and self.skips is not None:
            self.skips.offer(r, event, rel.epoch, self.teaching == rel.taught, rel.matters)
        if rel is not None and not self._judge(event, hit):
            return
        out.append(event)

    def _tags(self, tgid: int) -> set[str]:
        """An adopted process's syscalls are tagged as its execs are."""
        return {OUTSIDE_TAG} if tgid in self.outside else set()

    def _set_ids(self, tgid: int, ids: bytes, status: bytes | None) -> None:
        _ruid, euid, _rgid, egid = (int(x) for x in ids.split())
        proc = self.procs[tgid]
        facts = proc.facts
        if facts is not None and status is not None:
            facts = dataclasses.replace(facts, status=status.decode("utf-8", "replace"))
        self.procs[tgid] = dataclasses.replace(proc, uid=euid, gid=egid, facts=facts)

    # --- processes -----------------------------------------------------------

    def _adopt(self, tid: int) -> int:
        """A thread seen without a creation record: read it from /proc."""
        st = _status(tid)
        tgid = int(st.get("Tgid", tid) or tid)
        self.tgid_of[tid] = tgid
        if tgid not in self.procs:
            self.procs[tgid] = self._from_proc(tgid, int(st.get("PPid", 0) or 0), st)
            self.processes += 1
        return tgid

    def _from_proc(self, pid: int, ppid: int, st: dict[str, str] | None = None) -> ProcInfo:
        st = st if st is not None else _status(pid)
        uid = int(st.get("Uid", "0 0").split()[1])
        gid = int(st.get("Gid", "0 0").split()[1])
        argv = tuple(_read(f"/proc/{pid}/cmdline").split("\0")[:-1])
        parent = self.procs.get(ppid)
        return ProcInfo(
            pid=pid,
            ppid=ppid,
            name=st.get("Name", "?")[:15],
            exepath=_link(f"/proc/{pid}/exe"),
            argv=argv,
            cwd=_link(f"/proc/{pid}/cwd", "."),
            uid=uid,
            gid=gid,
            parent=parent,
        )

    def _new_task(self, child: int, parent_tid: int, thread: bool, adopted: R.Raw | None) -> None:
        """A new thread or process; `adopted`: seen by the core without ptrace, with
        what it runs read from /proc while it was stopped."""
        if child in self.tgid_of and adopted is None:
            return
        parent_tgid = self.tgid_of.get(parent_tid, parent_tid)
        if thread:
            self.tgid_of[child] = parent_tgid
            return
        self.tgid_of[child] = child
        if parent_tgid in self.outside:
            self.outside.add(child)
        parent = self.procs.get(parent_tgid)
        if adopted is not None:
            self.procs[child] = self._from_blobs(adopted, child, parent_tgid, parent)
        elif parent is None:
            self.procs[child] = self._from_proc(child, parent_tgid)
        else:
            self.procs[child] = dataclasses.replace(
                parent, pid=child, ppid=parent.pid, parent=parent, facts=None
            )
        self.processes += 1

    @staticmethod
    def _from_blobs(r: R.Raw, pid: int, ppid: int, parent: ProcInfo | None) -> ProcInfo:
        def text(tag: int, default: str = "") -> str:
            raw = r.blob(tag)
            return default if raw is None else raw.decode("utf-8", "surrogateescape")

        ids = text(T_IDS, "0 0 0 0").split()
        return ProcInfo(
            pid=pid,
            ppid=ppid,
            name=text(T_COMM, "?")[:15],
            exepath=text(T_EXE),
            argv=tuple(text(T_CMDLINE).split("\0")[:-1]),
            cwd=text(T_CWD, "."),
            uid=int(ids[1]),
            gid=int(ids[3]),
            parent=parent,
            facts=_facts(r),
        )

    def _exec(self, r: R.Raw, out: list[Event]) -> None:
        pid, former = r.tid, r.args[0]
        if r.args[1]:  # without ptrace: a look at the process after its execve
            self._observed_exec(r, out)
            return
        pending = self.pending.pop(former, None)
        # Every other thread of the group is gone now; the group continues as `pid`.
        for t in [t for t, g in self.tgid_of.items() if g == pid and t != pid]:
            del self.tgid_of[t]
            self.pending.pop(t, None)
        self.tgid_of.pop(former, None)
        self.tgid_of[pid] = pid
        before = self.procs.get(pid)
        cmdline = (r.blob(T_CMDLINE) or b"").decode("utf-8", "surrogateescape")
        comm = (r.blob(T_COMM) or b"").decode("utf-8", "replace")
        exepath = (r.blob(T_EXE) or b"").decode("utf-8", "surrogateescape")
        if pending is not None:
            fields = pending.fields
            argv = fields.pop("argv", ())
            name = truth.executed(fields, comm, exepath)  # the kernel's comm, not the claim
        else:
            fields, argv = {}, tuple(cmdline.split("\0")[:-1])
            name = comm
        proc = ProcInfo(
            pid=pid,
            ppid=before.ppid if before else 0,
            name=name[:15],
            exepath=exepath or fields.get("fd.name", ""),
            argv=tuple(argv),
            cwd=(r.blob(T_CWD) or b".").decode("utf-8", "surrogateescape"),
            uid=before.uid if before else 0,
            gid=before.gid if before else 0,
            parent=before.parent if before else None,
            facts=_facts(r),
        )
        self.procs[pid] = proc
        if pending is not None:
            fields["evt.res"] = 0
            out.append(Event(pending.ts, pending.etype, pid, proc, fields, self._tags(pid)))
        elif pid in self.outside:  # its execve entry came before the adoption
            self._outside_exec(pid, proc, out, r.ts)

    def _found_outside(self, pid: int, ts: int, out: list[Event]) -> None:
        """Seized at `ts`: what it runs now is reported as its execve."""
        self.outside.add(pid)
        proc = self.procs.get(pid)
        if proc is not None:
            self._outside_exec(pid, proc, out, ts)

    @staticmethod
    def _outside_exec(pid: int, proc: ProcInfo, out: list[Event], ts: int = 0) -> None:
        fields: dict[str, Any] = {"fd.name": proc.exepath, "evt.res": 0}
        out.append(Event(ts or time.time_ns(), "execve", pid, proc, fields, {OUTSIDE_TAG}))

    def _exit(self, tid: int, out: list[Event]) -> None:
        self.outside.discard(tid)
        key = tid if self.lifecycle else self.tgid_of.get(tid, tid)
        if key in self.pending:
            self._settle(key, out)
        tgid = self.tgid_of.pop(tid, None)
        if tgid == tid:
            self.procs.pop(tid, None)

    # --- execve outcomes -------------------------------------------------------

    def _observed_exec(self, r: R.Raw, out: list[Event]) -> None:
        """Without ptrace: the process's next stop after an execve shows whether it
        took effect (it now runs the argv asked for) or failed."""
        pid = r.tid
        p = self.pending.pop(pid, None)
        before = self.procs.get(pid)
        now = self._from_blobs(r, pid, before.ppid if before else 0, None)
        if p is not None and not ran(now.argv, p):
            self.pending[pid] = p
            self._settle(pid, out, failed_only=True)
            return
        proc = dataclasses.replace(
            now,
            # argv as the execve passed it, as with ptrace (a script's #! words aside)
            argv=tuple(p.fields["argv"]) if p is not None and "argv" in p.fields else now.argv,
            uid=before.uid if before else now.uid,
            gid=before.gid if before else now.gid,
            parent=before.parent if before else None,
        )
        # Without a pending execve (already settled from /proc), the table still
        # follows what the process runs now.
        self.procs[pid] = proc
        if p is not None:
            p.fields.pop("argv", None)
            truth.executed(p.fields, proc.name, proc.exepath)
            p.fields["evt.res"] = 0
            out.append(Event(p.ts, p.etype, p.tid, proc, p.fields))

    def _settle(self, key: int, out: list[Event], failed_only: bool = False) -> None:
        """The thread (or, without ptrace, the process) went on after an execve."""
        p = self.pending.pop(key)
        tgid = self.tgid_of.get(p.tid, key)
        if not (self.lifecycle or failed_only) and took_effect(tgid, p):
            self._exec_from_proc(tgid, p, out)
            return
        p.fields.pop("comm", None)
        p.fields["evt.arg.argv"] = list(p.fields.pop("argv", ()))
        p.fields["evt.failed"] = True
        out.append(Event(p.ts, p.etype, p.tid, self.procs[tgid], p.fields, self._tags(tgid)))

    def _exec_from_proc(self, pid: int, p: Pending, out: list[Event]) -> None:
        before = self.procs.get(pid)
        proc = self._from_proc(pid, before.ppid if before else 0)
        proc = dataclasses.replace(
            proc,
            argv=tuple(p.fields.pop("argv", proc.argv)),
            parent=before.parent if before is not None else proc.parent,
        )
        self.procs[pid] = proc
        truth.executed(p.fields, proc.name, proc.exepath)
        p.fields["evt.res"] = 0
        out.append(Event(p.ts, p.etype, p.tid, proc, p.fields))

    def settle_execs(self, now_ns: int, out: list[Event], everything: bool = False) -> None:
        """Without ptrace: settle execves older than EXEC_SETTLE_NS (all at the end)."""
        for key in [
            k for k, p in self.pending.items() if everything or now_ns - p.seen > EXEC_SETTLE_NS
        ]:
            p = self.pending[key]
            tgid = self.tgid_of.get(p.tid, key)
            if took_effect(tgid, p):
                del self.pending[key]
                self._exec_from_proc(tgid, p, out)
            elif everything or not (
                self.lifecycle or (now_ns - p.seen < EXEC_SETTLE_MAX_NS and in_exec(tgid, p))
            ):
                self._settle(key, out)

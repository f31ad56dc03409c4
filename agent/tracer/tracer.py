"""The tracer thread: spawn the application, then one waitpid loop for every stop.

Per traced syscall there is one stop (the seccomp stop at entry): one
PTRACE_GET_SYSCALL_INFO, the argument reads, one PTRACE_CONT. The exit stop is
taken only for syscalls listed in capture_results. Each event goes into the
bounded hand-off, which the asyncio loop drains in batches (see handoff.py).

Nothing here logs per event. A fault while handling one stop is counted and the
tracee is resumed: the tracer must outlive any bug, because with RET_TRACE a
tracee whose tracer is gone gets ENOSYS for every traced syscall.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import threading
import time
import traceback
from typing import Any

from tracehound.agent.event import Event, ProcInfo
from tracehound.agent.tracer import _ptrace as P
from tracehound.agent.tracer.decode import DECODERS, Decoder, accept_result, generic
from tracehound.agent.tracer.handoff import HandOff
from tracehound.agent.tracer.profiles import WRITE_ONLY_OPENS, resolve
from tracehound.agent.tracer.seccomp import DUP_ONTO_STDIO, OPEN_FOR_WRITE, build_program, to_fprog
from tracehound.agent.tracer.spawn import spawn_stopped
from tracehound.agent.tracer.syscalls import TABLES, canonical

log = logging.getLogger("tracehound")

_OPTIONS = (
    P.PTRACE_O_TRACESECCOMP
    | P.PTRACE_O_TRACEFORK
    | P.PTRACE_O_TRACEVFORK
    | P.PTRACE_O_TRACECLONE
    | P.PTRACE_O_TRACEEXEC
    | P.PTRACE_O_TRACESYSGOOD
    # If the agent dies, its tracees die with it instead of limping on with ENOSYS.
    | P.PTRACE_O_EXITKILL
)
_STOP_SIGNALS = frozenset({signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU})
_SYSCALL_TRAP = signal.SIGTRAP | 0x80
_ERESTART = frozenset({-512, -513, -514, -516})
_SETID = frozenset({"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid"})
_EXEC = frozenset({"execve", "execveat"})


@dataclasses.dataclass(slots=True)
class Task:
    """Bookkeeping for one thread (never leaves the tracer)."""

    tgid: int
    fresh: bool = True  # its next PTRACE_EVENT_STOP is the attach stop, not a group stop
    pending_exec: tuple[int, str, dict[str, Any]] | None = None  # ts, type, fields
    exit_wait: tuple[int, str, tuple[int, ...], dict[str, Any]] | None = None


def _proc_status(tid: int) -> dict[str, str]:
    out = {}
    try:
        with open(f"/proc/{tid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                out[key] = value.strip()
    except OSError:
        pass
    return out


class Tracer:
    def __init__(
        self,
        path: str,
        argv: list[str],
        env: dict[str, str],
        *,
        profile: str,
        syscalls: list[str],
        capture_results: list[str],
        argv_max: int,
        arg_max_bytes: int,
        handoff: HandOff,
    ) -> None:
        self.path, self.argv, self.env = path, argv, env
        traced = resolve(profile, syscalls)
        checks = dict(DUP_ONTO_STDIO)
        if profile in WRITE_ONLY_OPENS:
            checks |= OPEN_FOR_WRITE
        self.fprog = to_fprog(build_program(traced, checks))
        self.capture = frozenset(canonical(n) for n in capture_results) & traced
        # audit arch -> {nr: name}; x32 numbers live in the x86_64 map with their bit set.
        x86 = dict(TABLES["x86_64"])
        x86.update({nr | P.X32_SYSCALL_BIT: n for nr, n in TABLES["x32"].items()})
        self.names = {
            P.AUDIT_ARCH_X86_64: x86,
            P.AUDIT_ARCH_I386: TABLES["i386"],
            P.AUDIT_ARCH_AARCH64: TABLES["aarch64"],
        }
        self.decoder = Decoder(argv_max, arg_max_bytes)
        self.handoff = handoff
        self.tasks: dict[int, Task] = {}
        self.procs: dict[int, ProcInfo] = {}
        self.main_pid = 0
        self.exit_status: int | None = None
        self.started = threading.Event()
        self.start_error: BaseException | None = None
        self.stats = {"stops": 0, "events": 0, "errors": 0, "processes": 0}
        self._sysinfo = P.SyscallInfoReader()

    # --- lifecycle ------------------------------------------------------

    def run(self) -> None:
        """Thread body: spawn, trace until every tracee is gone."""
        pid = 0
        try:
            pid = spawn_stopped(self.path, self.argv, self.env, self.fprog)
            P.seize(pid, _OPTIONS)
            os.kill(pid, signal.SIGCONT)
        except BaseException as exc:
            if pid:  # never leave the application stopped and untraced
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
            self.start_error = exc
            self.handoff.closed = True
            self.started.set()
            return
        self.main_pid = pid
        self.procs[pid] = ProcInfo(
            pid=pid,
            ppid=os.getpid(),
            name="tracehound",
            exepath=os.readlink("/proc/self/exe"),
            argv=tuple(self.argv),
            cwd=os.getcwd(),
            uid=os.getuid(),
            gid=os.getgid(),
        )
        self.tasks[pid] = Task(pid)
        self.stats["processes"] = 1
        self.started.set()
        try:
            self._loop()
        finally:
            self.handoff.closed = True

    def _loop(self) -> None:
        waitpid = os.waitpid
        wall = P.WALL
        while True:
            try:
                tid, status = waitpid(-1, wall)
            except ChildProcessError:
                return
            self.stats["stops"] += 1
            try:
                if status & 0xFF == 0x7F:
                    self._on_stop(tid, (status >> 8) & 0xFF, status >> 16)
                else:
                    self._on_exit(tid, status)
            except Exception:
                self.stats["errors"] += 1
                if self.stats["errors"] <= 5:
                    log.error("tracer: error at a stop of %d:\n%s", tid, traceback.format_exc())
                P.resume(P.PTRACE_CONT, tid, 0)

    def _on_stop(self, tid: int, sig: int, event: int) -> None:
        if event == P.PTRACE_EVENT_SECCOMP:
            self._on_seccomp(tid)
        elif sig == _SYSCALL_TRAP:
            self._on_syscall_exit(tid)
        elif event == 0:  # signal-delivery stop: pass the signal on
            P.resume(P.PTRACE_CONT, tid, sig)
        elif event == P.PTRACE_EVENT_STOP:
            task = self.tasks.get(tid) or self._adopt(tid)
            if task.fresh:
                task.fresh = False
                P.resume(P.PTRACE_CONT, tid, 0)
            elif sig in _STOP_SIGNALS:
                # Group stop: stay stopped like an untraced process would, but
                # keep reporting, so SIGCONT can wake it.
                P.resume(P.PTRACE_LISTEN, tid, 0)
            else:
                P.resume(P.PTRACE_CONT, tid, 0)
        elif event in (P.PTRACE_EVENT_FORK, P.PTRACE_EVENT_VFORK, P.PTRACE_EVENT_CLONE):
            self._on_new_task(tid, event)
        elif event == P.PTRACE_EVENT_EXEC:
            self._on_exec(tid)
        else:
            P.resume(P.PTRACE_CONT, tid, 0)

    # --- processes ------------------------------------------------------

    def _adopt(self, tid: int) -> Task:
        """A task seen before its creation event (the child can win that race)."""
        st = _proc_status(tid)
        tgid = int(st.get("Tgid", tid))
        if tgid != tid or tgid in self.procs:
            task = Task(tgid)
        else:
            self._new_process(tgid, int(st.get("PPid", 0)))
            task = Task(tgid)
        self.tasks[tid] = task
        return task

    def _new_process(self, pid: int, parent_pid: int) -> None:
        parent = self.procs.get(parent_pid)
        if parent is None:
            st = _proc_status(pid)
            uid = int(st.get("Uid", "0 0").split()[1])
            gid = int(st.get("Gid", "0 0").split()[1])
            self.procs[pid] = ProcInfo(pid, parent_pid, st.get("Name", "?"), "", (), "", uid, gid)
        else:
            self.procs[pid] = dataclasses.replace(parent, pid=pid, ppid=parent.pid, parent=parent)
        self.stats["processes"] += 1

    def _on_new_task(self, tid: int, event: int) -> None:
        new = P.get_event_msg(tid)
        parent = self.tasks.get(tid) or self._adopt(tid)
        if new not in self.tasks:
            thread = False
            if event == P.PTRACE_EVENT_CLONE:
                thread = _proc_status(new).get("Tgid") == str(parent.tgid)
            if thread:
                self.tasks[new] = Task(parent.tgid)
            else:
                self._new_process(new, parent.tgid)
                self.tasks[new] = Task(new)
        P.resume(P.PTRACE_CONT, tid, 0)

    def _on_exec(self, pid: int) -> None:
        former = P.get_event_msg(pid)
        old = self.tasks.pop(former, None)
        # Every other thread of the group is gone now; the group continues as `pid`.
        for t in [t for t, task in self.tasks.items() if task.tgid == pid]:
            del self.tasks[t]
        self.tasks[pid] = Task(pid, fresh=False)
        before = self.procs.get(pid)
        pending = old.pending_exec if old else None
        if pending is not None:
            ts, etype, fields = pending
            argv = fields.pop("argv", ())
            name = fields.pop("comm", None) or os.path.basename(fields["fd.name"])
        else:
            ts, etype, fields = 0, "execve", {}
            argv = tuple(self._read_proc_text(pid, "cmdline").split("\0")[:-1])
            name = self._read_proc_text(pid, "comm").strip()
        try:
            exepath = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            exepath = fields.get("fd.name", "")
        cwd = self.decoder.cwd(pid)
        proc = ProcInfo(
            pid=pid,
            ppid=before.ppid if before else 0,
            name=name[:15],
            exepath=exepath,
            argv=tuple(argv),
            cwd=cwd,
            uid=before.uid if before else 0,
            gid=before.gid if before else 0,
            parent=before.parent if before else None,
        )
        self.procs[pid] = proc
        if pending is not None:
            fields["evt.res"] = 0
            self._emit(ts, etype, pid, proc, fields)
        P.resume(P.PTRACE_CONT, pid, 0)

    @staticmethod
    def _read_proc_text(pid: int, name: str) -> str:
        try:
            with open(f"/proc/{pid}/{name}", "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _exec_failed(self, tid: int, task: Task) -> None:
        """An execve that never reached PTRACE_EVENT_EXEC: it failed."""
        assert task.pending_exec is not None
        ts, etype, fields = task.pending_exec
        task.pending_exec = None
        fields.pop("comm", None)
        fields["evt.arg.argv"] = list(fields.pop("argv", ()))
        fields["evt.failed"] = True
        self._emit(ts, etype, tid, self.procs[task.tgid], fields)

    def _on_exit(self, tid: int, status: int) -> None:
        task = self.tasks.pop(tid, None)
        if task is not None:
            if task.pending_exec is not None:
                self._exec_failed(tid, task)
            if tid == task.tgid:
                self.procs.pop(tid, None)
        if tid == self.main_pid:
            self.exit_status = (
                os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
            )
            # As when a container's PID 1 exits: the rest of the tree goes too.
            for other in list(self.tasks):
                with contextlib.suppress(OSError):
                    os.kill(other, signal.SIGKILL)

    # --- syscalls -------------------------------------------------------

    def _on_seccomp(self, tid: int) -> None:
        ts = time.time_ns()
        info = self._sysinfo.read(tid)
        task = self.tasks.get(tid) or self._adopt(tid)
        if task.pending_exec is not None:
            self._exec_failed(tid, task)
        if info is None or info[0] != P.SYSCALL_INFO_SECCOMP:
            P.resume(P.PTRACE_CONT, tid, 0)
            return
        arch, nr, args = info[1], info[4], info[5:11]
        table = self.names.get(arch)
        name = table.get(nr) if table is not None else None
        self.decoder.ptr_size = 4 if arch == P.AUDIT_ARCH_I386 or nr & P.X32_SYSCALL_BIT else 8
        if name is None:
            etype = f"syscall_{nr}"
            fields = generic(self.decoder, tid, task.tgid, args)
            fields["evt.arg.arch"] = hex(arch)
        else:
            etype = name
            fields = DECODERS.get(name, generic)(self.decoder, tid, task.tgid, args)
        if name in _EXEC:
            task.pending_exec = (ts, etype, fields)  # confirmed by PTRACE_EVENT_EXEC
            P.resume(P.PTRACE_CONT, tid, 0)
        elif name in self.capture:
            task.exit_wait = (ts, etype, args, fields)
            P.resume(P.PTRACE_SYSCALL, tid, 0)
        else:
            self._emit(ts, etype, tid, self.procs[task.tgid], fields)
            P.resume(P.PTRACE_CONT, tid, 0)

    def _on_syscall_exit(self, tid: int) -> None:
        info = self._sysinfo.read(tid)
        task = self.tasks.get(tid)
        if info is not None and info[0] == P.SYSCALL_INFO_ENTRY:
            P.resume(P.PTRACE_SYSCALL, tid, 0)  # older kernels: an entry stop comes first
            return
        if task is None or task.exit_wait is None or info is None:
            P.resume(P.PTRACE_CONT, tid, 0)
            return
        ts, etype, args, fields = task.exit_wait
        task.exit_wait = None
        raw = info[4]  # the exit arm's rval, as unsigned
        rval = raw - (1 << 64) if raw & (1 << 63) else raw
        if rval in _ERESTART:  # the syscall will be restarted and stop again
            P.resume(P.PTRACE_CONT, tid, 0)
            return
        if etype in ("accept", "accept4"):
            fields = accept_result(self.decoder, tid, args, rval)
        else:
            fields["evt.res"] = rval
        if etype in _SETID and rval == 0:
            self._refresh_ids(task.tgid, tid)
        self._emit(ts, etype, tid, self.procs[task.tgid], fields)
        P.resume(P.PTRACE_CONT, tid, 0)

    def _refresh_ids(self, pid: int, tid: int) -> None:
        st = _proc_status(tid)
        if "Uid" in st and pid in self.procs:
            uid, gid = int(st["Uid"].split()[1]), int(st["Gid"].split()[1])
            self.procs[pid] = dataclasses.replace(self.procs[pid], uid=uid, gid=gid)

    # --- events ---------------------------------------------------------

    def _emit(self, ts: int, etype: str, tid: int, proc: ProcInfo, fields: dict[str, Any]) -> None:
        self.stats["events"] += 1
        self.handoff.push(Event(ts, etype, tid, proc, fields))

    def counters(self) -> dict[str, int]:
        return {**self.stats, "dropped": self.handoff.dropped}

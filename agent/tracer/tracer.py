"""The tracer thread: pick a backend, spawn the application under the capture core,
and run the core until every tracee is gone.

Everything per traced syscall happens in the core (C, without the GIL): it
waits for the stop, reads the arguments, encodes the event and resumes the
tracee. This thread only starts it and then sleeps in core.run(); the asyncio
loop drains the core through the hand-off (handoff.py), where the process
table (proctable.py) turns records into Events.

Because a tracee whose tracer is gone gets ENOSYS for its traced syscalls, the
core never runs Python and never depends on the pipeline: a fault there leaves
the application running.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from tracehound.agent.cpu import thread_cpu
from tracehound.agent.tracer.backend import Backend, choose, core, describe, probe
from tracehound.agent.tracer.guard import Guard
from tracehound.agent.tracer.handoff import HandOff
from tracehound.agent.tracer.proctable import ProcessTable
from tracehound.agent.tracer.profiles import WRITE_ONLY_OPENS, resolve
from tracehound.agent.tracer.seccomp import (
    DUP_ONTO_STDIO,
    OPEN_FOR_WRITE,
    RET_TRACE,
    RET_USER_NOTIF,
    SHARED_OR_FILE_MAPS,
    build_program,
    to_bytes,
)
from tracehound.agent.tracer.specs import CLAIM_GUARDS, REMAPS, SKIPPABLE, VERIFIED, compile_specs
from tracehound.agent.tracer.syscalls import canonical
from tracehound.event import ProcInfo
from tracehound.families import EXEC

log = logging.getLogger("tracehound")

# The core's own bound on what waits for the pipeline, besides queue.max_events.
QUEUE_MAX_BYTES = 8 << 20
# With user notification the application's execve must stop: the agent takes the
# listener from the child while it waits there (see _core.c, child()).
_ALWAYS_NOTIFIED = EXEC
UNVERIFIED = (
    "tracer.verify: without ptrace there is no exit stop: opens and connects are recorded "
    "without their result or the kernel's answer (an open's path is resolved by the agent "
    "as it starts; execs are still checked against /proc; see README)"
)


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
        backend: str = "auto",
        ptrace_placement: str = "none",
        verify: bool = True,
        io_uring: str = "alert",
    ) -> None:
        self.path, self.argv, self.env = path, argv, env
        self.traced = resolve(profile, syscalls)
        self.checks = dict(DUP_ONTO_STDIO)
        if profile in WRITE_ONLY_OPENS:
            self.checks |= OPEN_FOR_WRITE
        # With verify, opens and connects take the exit stop too (where ptrace can):
        # their result, and the kernel's answer beside the claim (truth.py).
        self.verify = verify
        wanted = frozenset(canonical(n) for n in capture_results) | (VERIFIED if verify else set())
        self.capture = wanted & self.traced
        self.argv_max, self.arg_max_bytes = argv_max, arg_max_bytes
        self.requested = backend
        self.ptrace_placement = ptrace_placement
        self.io_uring = io_uring
        self.backend: Backend | None = None
        self.handoff = handoff
        self.core: Any = None
        self.table: ProcessTable | None = None
        self.main_pid = 0
        self.exit_status: int | None = None
        self.started = threading.Event()
        self.start_error: BaseException | None = None
        self.thread_cpu: tuple[float, float] | None = None  # this thread's user, sys at its end

    def _make_core(self, b: Backend) -> Any:
        traced = self.traced | _ALWAYS_NOTIFIED if b.notify else self.traced
        capture = self.capture if b.ptrace else frozenset()
        action = RET_USER_NOTIF if b.notify else RET_TRACE
        guard = Guard(os.getpid(), b.ptrace, self.io_uring)
        checks = guard.checks(traced) | self.checks
        traced |= guard.traced() | CLAIM_GUARDS
        # Alerts only: the syscalls whose exit the core may skip (specs.SKIPPABLE: opens,
        # connects) are notified (a same-CPU hand-off), and only those whose exit is
        # wanted get it, by PTRACE_INTERRUPT; without a killable wait the syscall
        # restarts first (_core.c, "opens by notification, exits by interrupt").
        notify_exits = b.notify and b.ptrace and self.handoff.relevance is not None
        via_ptrace = capture - SKIPPABLE if notify_exits else capture
        # There, mappings that could put another process's page under a claim stop too
        # (quietly, unless asked for): a claim in private anonymous memory is trusted
        # until one is made, without a look at its page at every open.
        quiet = REMAPS - traced if notify_exits else frozenset()
        checks |= {n: c for n, c in SHARED_OR_FILE_MAPS.items() if n in quiet}
        traced |= quiet
        prog = build_program(traced, checks, action, via_ptrace=via_ptrace)
        c = core().Core(
            to_bytes(prog),
            guard.specs(compile_specs(traced, capture, self.verify, quiet)),
            b.notify,
            b.ptrace,
            b.sync_wakeup,
            self.argv_max,
            self.arg_max_bytes,
            self.handoff.max_events,
            QUEUE_MAX_BYTES,
            self.handoff.block,
            self.ptrace_placement == "follow",
            b.killable_recv,
            notify_exits,
            self.verify and not b.ptrace,  # resolve claims at entry: no exit stop
            notify_exits,  # the mappings above stop: memory verdicts can be kept
        )
        c.guard(os.getpid(), os.getpgrp())
        return c

    def run(self) -> None:
        """Thread body: spawn, trace until every tracee is gone."""
        try:
            self.backend = choose(self.requested, probe())
            log.info("%s", describe(self.backend))
            if self.verify and not self.backend.ptrace:
                log.warning(UNVERIFIED)
            self.core = self._make_core(self.backend)
            env = [f"{k}={v}".encode(errors="surrogateescape") for k, v in self.env.items()]
            argv = [a.encode(errors="surrogateescape") for a in self.argv]
            pid = self.core.spawn(os.fsencode(self.path), argv, env)
        except BaseException as exc:
            self.start_error = exc
            self.handoff.closed = True
            self.started.set()
            return
        self.main_pid = pid
        root = ProcInfo(
            pid=pid,
            ppid=os.getpid(),
            name="tracehound",
            exepath=os.readlink("/proc/self/exe"),
            argv=tuple(self.argv),
            cwd=os.getcwd(),
            uid=os.getuid(),
            gid=os.getgid(),
        )
        self.table = ProcessTable(root, lifecycle=self.backend.ptrace)
        self.handoff.attach(self.core, self.table)
        self.started.set()
        try:
            self.core.run()
        finally:
            self.thread_cpu = thread_cpu()
            status = self.core.stats()["exit_status"]
            self.exit_status = status if status >= 0 else 255
            self.handoff.closed = True

    def counters(self) -> dict[str, int]:
        if self.core is None:
            return {
                "stops": 0, "events": 0, "dropped": 0, "errors": 0, "processes": 0, "filtered": 0
            }  # fmt: skip
        s = self.core.stats()
        return {
            "stops": s["stops"],
            "events": s["events"],
            "dropped": s["dropped"],
            "errors": s["errors"],
            "notifications_invalid": s["notifications_invalid"],
            "outside_adopted": s.get("adopted", 0),
            "outside_adopt_failed": s.get("adopt_failed", 0),
            "outside_events": s.get("outside_events", 0),
            "processes": self.table.processes if self.table else 0,
            # Repeats of events that could not matter (no sink takes events, no rule can
            # fire, no stage learns from them): counted here, never made into objects;
            # skipped opens (below) are among them, left out by the core itself.
            "filtered": (self.table.filtered if self.table else 0) + s.get("exit_skips", 0),
            # Opens whose result could not matter (skips.py): each saved an exit stop,
            # and its record is not handed over (counted in "filtered").
            "exits_skipped": s.get("exit_skips", 0),
            # ... of which a name on the path was rebound while the open ran (an
            # alert: the file opened may be another, pathwatch.h), and the renames
            # and creations seen in the directories those paths go through.
            "exits_skipped_raced": s.get("path_races", 0),
            "path_changes": s.get("path_changes", 0),
            # Notified opens whose exit was wanted: taken by PTRACE_INTERRUPT.
            "exits_by_interrupt": s.get("interrupt_exits", 0),
            # ... of which restarted first (no killable wait: kernels before 5.19).
            "exits_after_restart": s.get("restarted_exits", 0),
            # No SYNC_WAKE_UP: one notify thread pinned per CPU (1), and how often one
            # was woken for a notification another took.
            "notify_percpu": s.get("notify_percpu", 0),
            "notify_races": s.get("recv_races", 0),
        }

"""The process table, one table row per record sequence: what the core hands over
(new tasks, syscalls, execs, exits, as bytes in the wire format) in, the events and
their process snapshots out. With lifecycle records (ptrace), nothing reads /proc."""

from __future__ import annotations

import dataclasses
import os
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tracehound.agent.tracer import wire
from tracehound.agent.tracer._ptrace import AUDIT_ARCH_X86_64
from tracehound.agent.tracer.handoff import HandOff
from tracehound.agent.tracer.pending import EXEC_SETTLE_MAX_NS, EXEC_SETTLE_NS
from tracehound.agent.tracer.proctable import ProcessTable
from tracehound.agent.tracer.specs import T_ARGV, T_CMDLINE, T_COMM, T_CWD, T_EXE, T_STR
from tracehound.agent.tracer.syscalls import TABLES
from tracehound.event import Event, ProcInfo

NR = {name: nr for nr, name in TABLES["x86_64"].items()}
ROOT = ProcInfo(100, 1, "sh", "/bin/sh", ("sh", "-c", "x"), "/app", 1000, 1000)
CWD = 2**64 - 100


def rec(kind: int, tid: int, nr: int = 0, args: tuple[int, ...] = (), res: int = 0,
        flags: int = 0, blobs: dict[tuple[int, int], bytes] | None = None) -> bytes:  # fmt: skip
    body = b"".join(
        struct.pack("<BBHI", tag, arg, 0, len(b)) + b for (tag, arg), b in (blobs or {}).items()
    )
    a = (*args, *(0,) * (6 - len(args)))
    head = struct.pack(
        "<IBBHiIiQ6Qq", wire.HEAD_SIZE + len(body), kind, flags, len(blobs or {}), tid,
        AUDIT_ARCH_X86_64, nr, 1_000, *a, res,
    )  # fmt: skip
    return head + body


def fork(child: int, parent: int, thread: bool = False) -> bytes:
    return rec(wire.KIND_NEW_TASK, child, args=(parent, int(thread)))


def openat(tid: int, path: bytes) -> bytes:
    return rec(wire.KIND_SYSCALL, tid, NR["openat"], (CWD, 0, 0), blobs={(T_STR, 1): path})


def execve(tid: int, path: bytes, argv: bytes) -> bytes:
    blobs = {(T_STR, 0): path, (T_ARGV, 1): argv}
    return rec(wire.KIND_SYSCALL, tid, NR["execve"], blobs=blobs)


def exec_done(pid: int, exe: bytes, argv: bytes) -> bytes:
    # The kernel's comm after an exec is the basename of the file it executed.
    comm = exe.rsplit(b"/", 1)[-1][:15]
    blobs = {(T_EXE, 0): exe, (T_CMDLINE, 0): argv, (T_COMM, 0): comm, (T_CWD, 0): b"/app"}
    return rec(wire.KIND_EXEC, pid, args=(pid, 0), blobs=blobs)


def exit_(tid: int) -> bytes:
    return rec(wire.KIND_EXIT, tid)


def summary(e: Event) -> dict[str, Any]:
    return {
        "type": e.type, "tid": e.tid, "pid": e.proc.pid, "ppid": e.proc.ppid,
        "name": e.proc.name, "fd.name": e.fields.get("fd.name"),
        "res": e.fields.get("evt.res"), "failed": e.fields.get("evt.failed"),
    }  # fmt: skip


def ev(type_: str, tid: int, pid: int, ppid: int, name: str, fd: str | None = None,
       res: int | None = None, failed: bool | None = None) -> dict[str, Any]:  # fmt: skip
    return {"type": type_, "tid": tid, "pid": pid, "ppid": ppid, "name": name, "fd.name": fd,
            "res": res, "failed": failed}  # fmt: skip


CASES: list[tuple[str, list[bytes], list[dict[str, Any]]]] = [
    ("the root's own syscall", [openat(100, b"/etc/hosts")],
     [ev("openat", 100, 100, 1, "sh", "/etc/hosts")]),
    ("a forked child inherits the snapshot", [fork(101, 100), openat(101, b"/a")],
     [ev("openat", 101, 101, 100, "sh", "/a")]),
    ("a thread belongs to its group", [fork(102, 100, thread=True), openat(102, b"/b")],
     [ev("openat", 102, 100, 1, "sh", "/b")]),
    ("exec confirmed by the exec record", [
        fork(101, 100), execve(101, b"/bin/cat", b"cat\0/f\0"),
        exec_done(101, b"/usr/bin/cat", b"cat\0/f\0"), openat(101, b"/f")],
     [ev("execve", 101, 101, 100, "cat", "/bin/cat", res=0),
      ev("openat", 101, 101, 100, "cat", "/f")]),
    ("a failed exec: the thread went on", [
        execve(100, b"/nope", b"nope\0"), openat(100, b"/g")],
     [ev("execve", 100, 100, 1, "sh", "/nope", failed=True),
      ev("openat", 100, 100, 1, "sh", "/g")]),
    ("exit forgets the process", [fork(101, 100), exit_(101), openat(100, b"/h")],
     [ev("openat", 100, 100, 1, "sh", "/h")]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "records", "expected"), CASES, ids=[c[0] for c in CASES])
def test_records_to_events(name: str, records: list[bytes], expected: list[dict[str, Any]]) -> None:
    table = ProcessTable(ROOT, lifecycle=True)
    out: list[Event] = []
    table.feed(b"".join(records), out)
    assert [summary(e) for e in out] == expected


def test_an_event_keeps_the_snapshot_of_its_time() -> None:
    table = ProcessTable(ROOT, lifecycle=True)
    out: list[Event] = []
    table.feed(openat(100, b"/before"), out)
    table.feed(execve(100, b"/bin/ls", b"ls\0") + exec_done(100, b"/bin/ls", b"ls\0"), out)
    before, exec_event = out
    assert before.proc.name == "sh" and exec_event.proc.name == "ls"
    assert exec_event.proc.exepath == "/bin/ls" and exec_event.proc.argv == ("ls",)


# --- without ptrace: no lifecycle records but the core's look at /proc -------------


def observed(pid: int, exe: bytes, cmdline: bytes, ran: bytes = b"") -> bytes:
    """The core's look at a process at its first stop after an execve (no ptrace).
    The kernel's comm is the basename of the file executed (`ran`: a script)."""
    comm = (ran or exe).rsplit(b"/", 1)[-1][:15]
    blobs = {(T_EXE, 0): exe, (T_CMDLINE, 0): cmdline, (T_COMM, 0): comm, (T_CWD, 0): b"/app"}
    return rec(wire.KIND_EXEC, pid, args=(pid, 1), blobs=blobs)


NO_PTRACE_CASES: list[tuple[str, list[bytes], list[dict[str, Any]]]] = [
    ("a thread's exec: the leader's stop before the exec is done settles nothing", [
        fork(102, 100, thread=True), execve(102, b"/bin/cat", b"cat\0/f\0"),
        openat(100, b"/still-sh"),
        observed(100, b"/usr/bin/cat", b"cat\0/f\0"), openat(100, b"/f")],
     [ev("openat", 100, 100, 1, "sh", "/still-sh"),
      ev("execve", 102, 100, 1, "cat", "/bin/cat", res=0),
      ev("openat", 100, 100, 1, "cat", "/f")]),
    ("a thread's exec failed: that thread went on", [
        fork(102, 100, thread=True), execve(102, b"/nope", b"nope\0"),
        openat(100, b"/a"), openat(102, b"/b")],
     [ev("openat", 100, 100, 1, "sh", "/a"),
      ev("execve", 102, 100, 1, "sh", "/nope", failed=True),
      ev("openat", 102, 100, 1, "sh", "/b")]),
    ("a script runs under its interpreter, with its path in argv", [
        execve(100, b"/app/run.sh", b"./run.sh\0x\0"),
        observed(100, b"/usr/bin/dash", b"/bin/sh\0./run.sh\0x\0", b"run.sh"), openat(100, b"/c")],
     [ev("execve", 100, 100, 1, "run.sh", "/app/run.sh", res=0),
      ev("openat", 100, 100, 1, "run.sh", "/c")]),
    ("the leader's own exec failed: /proc shows the old argv", [
        execve(100, b"/bin/ls", b"ls\0"), observed(100, b"/bin/sh", b"sh\0-c\0x\0")],
     [ev("execve", 100, 100, 1, "sh", "/bin/ls", failed=True)]),
    ("an exec settled before the core's look: the table still follows the program", [
        execve(100, b"/nope", b"nope\0"), openat(100, b"/d"),
        observed(100, b"/usr/bin/ls", b"ls\0"), openat(100, b"/e")],
     [ev("execve", 100, 100, 1, "sh", "/nope", failed=True),
      ev("openat", 100, 100, 1, "sh", "/d"),
      ev("openat", 100, 100, 1, "ls", "/e")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "records", "expected"), NO_PTRACE_CASES, ids=[c[0] for c in NO_PTRACE_CASES]
)
def test_records_to_events_without_ptrace(
    name: str, records: list[bytes], expected: list[dict[str, Any]]
) -> None:
    table = ProcessTable(ROOT, lifecycle=False)
    out: list[Event] = []
    table.feed(b"".join(records), out)
    assert [summary(e) for e in out] == expected


def test_a_slow_exec_is_not_settled_while_its_thread_is_inside_it() -> None:
    """Without ptrace, an execve not settled after EXEC_SETTLE_NS is looked at in
    /proc: while its thread is still in that syscall (here a real process blocked
    in the syscall the record names), it is not called failed, until
    EXEC_SETTLE_MAX_NS."""
    machine = {"x86_64": "x86_64", "aarch64": "aarch64"}[os.uname().machine]
    nr = {n: k for k, n in TABLES[machine].items()}
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        deadline = time.monotonic() + 10
        want = str(nr["clock_nanosleep"]).encode()
        while Path(f"/proc/{sleeper.pid}/syscall").read_bytes().split(b" ")[0] != want:
            assert time.monotonic() < deadline, "sleep never blocked in clock_nanosleep"
            time.sleep(0.01)
        root = dataclasses.replace(ROOT, pid=sleeper.pid, argv=("sleep", "60"))
        # The sleeper stands for a thread blocked in its execve: the number /proc shows
        # is compared with the record's. Not in it (openat): failed at the first look.
        for in_it, settled_at_first_look in ((nr["clock_nanosleep"], False), (nr["openat"], True)):
            table = ProcessTable(root, lifecycle=False)
            out: list[Event] = []
            table.feed(execve(sleeper.pid, b"/bin/true", b"true\0"), out)
            table.pending[sleeper.pid].nr = in_it
            seen = table.pending[sleeper.pid].seen
            table.settle_execs(seen + EXEC_SETTLE_NS // 2, out)
            assert out == []  # too early to look
            table.settle_execs(seen + EXEC_SETTLE_NS + 1, out)
            assert len(out) == int(settled_at_first_look)
            table.settle_execs(seen + EXEC_SETTLE_MAX_NS + 1, out)
            assert [(e.type, e.fields.get("evt.failed"), e.proc.name) for e in out] == [
                ("execve", True, "sh")
            ]
    finally:
        sleeper.kill()
        sleeper.wait()


# ---- equal records: decoded once, each its own event ----


def _at(record: bytes, ts: int) -> bytes:
    return record[:20] + struct.pack("<Q", ts) + record[28:]


def test_equal_records_make_events_of_their_own() -> None:
    table = ProcessTable(ROOT, lifecycle=True)
    out: list[Event] = []
    same = openat(100, b"/etc/hosts")
    data = fork(101, 100, thread=True) + _at(same, 5) + _at(openat(101, b"/etc/hosts"), 6)
    table.feed(data + _at(same, 7), out)
    assert [(e.tid, e.ts, e.fields["fd.name"]) for e in out] == [
        (100, 5, "/etc/hosts"), (101, 6, "/etc/hosts"), (100, 7, "/etc/hosts"),
    ]  # fmt: skip
    out[0].fields["user.name"] = "x"  # the stages add fields: never to another event's
    assert "user.name" not in out[1].fields and "user.name" not in out[2].fields
    # After an exec the same record belongs to the new program.
    table.feed(execve(100, b"/bin/ls", b"ls\0") + exec_done(100, b"/bin/ls", b"ls\0"), out)
    table.feed(_at(same, 9), out)
    assert out[-1].proc.name == "ls" and out[-1].fields["fd.name"] == "/etc/hosts"


class _Chain:
    """A stand-in for the stage chain's relevance answers (StageChain.matters)."""

    def __init__(self) -> None:
        self.epoch = 0
        self.taught = 0
        self.asked: list[str] = []

    def matters(self, e: Event) -> bool:
        self.asked.append(e.fields["fd.name"])
        return e.fields["fd.name"] != "/boring"

    def teaches(self, e: Event) -> bool:
        return e.fields["fd.name"] == "/written"


def test_events_that_cannot_matter_are_counted_not_handed_over() -> None:
    table = ProcessTable(ROOT, lifecycle=True)
    chain = _Chain()
    table.relevance = chain
    out: list[Event] = []
    table.feed(openat(100, b"/boring") * 3 + openat(100, b"/etc/shadow") * 2, out)
    assert [e.fields["fd.name"] for e in out] == ["/etc/shadow"] * 2
    assert table.filtered == 3 and chain.asked == ["/boring", "/etc/shadow"]  # once each
    # A write is handed over; until the chain has learned it, nothing is filtered.
    out.clear()
    table.feed(openat(100, b"/written") + openat(100, b"/boring"), out)
    assert [e.fields["fd.name"] for e in out] == ["/written", "/boring"]
    chain.taught, chain.epoch = 1, 1  # the chain processed the write: a new epoch
    out.clear()
    table.feed(openat(100, b"/boring") * 2, out)
    assert out == [] and table.filtered == 5 and chain.asked[-1] == "/boring"


class _Core:
    """The core's drain(): the records in shares, with what is left after each."""

    def __init__(self, shares: list[bytes]) -> None:
        self.shares = shares

    def drain(self, _max: int) -> tuple[bytes, int]:
        if not self.shares:
            return b"", 0
        data = self.shares.pop(0)
        return data, sum(len(s) for s in self.shares)


def test_a_share_of_filtered_events_does_not_end_the_drain() -> None:
    # "No batches" is how the pipeline learns that nothing is left: a share whose
    # events were all filtered must not look like that while more shares wait.
    handoff = HandOff(1000, block=False)
    table = ProcessTable(ROOT, lifecycle=True)
    handoff.relevance = _Chain()
    handoff.attach(_Core([openat(100, b"/boring") * 3, openat(100, b"/boring"),
                          openat(100, b"/etc/shadow")]), table)  # fmt: skip
    batches = handoff.drain()
    assert [e.fields["fd.name"] for b in batches for e in b] == ["/etc/shadow"]
    assert table.filtered == 4 and handoff.drain() == []

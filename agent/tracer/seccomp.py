"""Build the seccomp-bpf program that decides which syscalls stop the tracee.

Layout: check the architecture word first (x86_64 + x32, i386, aarch64, each
with its own table); then a binary search over number intervals, so a syscall
costs about log2(intervals) comparisons whatever the profile size. Numbers we
do not know, and architectures we do not know, are traced (the trace action), never
allowed silently and never failed.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from tracehound.agent.tracer._ptrace import (
    AUDIT_ARCH_AARCH64,
    AUDIT_ARCH_I386,
    AUDIT_ARCH_X86_64,
    X32_SYSCALL_BIT,
)
from tracehound.agent.tracer.syscalls import TABLES

# classic BPF opcodes
_LD_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ = 0x15
_JGE = 0x35
_JSET = 0x45
_AND = 0x54  # BPF_ALU | BPF_AND | BPF_K
_JA = 0x05
_RET = 0x06

RET_ALLOW = 0x7FFF0000
RET_TRACE = 0x7FF00000  # stop for the ptrace tracer (PTRACE_EVENT_SECCOMP)
RET_USER_NOTIF = 0x7FC00000  # notify the seccomp listener
RET_ENOSYS = 0x00050000 | 38  # SECCOMP_RET_ERRNO | ENOSYS

_OFF_NR = 0
_OFF_ARCH = 4


def _arg_low(i: int) -> int:
    """Offset of the low 32 bits of args[i] in struct seccomp_data (little endian)."""
    return 16 + 8 * i


Insn = tuple[int, int, int, int]  # code, jt, jf, k


@dataclass(frozen=True)
class ArgCheck:
    """Trace only when args[arg] (low 32 bits) is below `below`, has a bit of `mask`
    set, equals `equals`, or, masked with `masked`, differs from `masked_is`.
    `action`, when set, replaces the run's trace action."""

    arg: int
    below: int = 0
    mask: int = 0
    equals: int | None = None
    action: int | None = None
    ptrace: bool = False  # RET_TRACE whatever the run's trace action (see via_ptrace)
    masked: int = 0
    masked_is: int = 0

    def code(self, trace: int = RET_TRACE) -> list[Insn]:
        trace = RET_TRACE if self.ptrace else trace
        ret = (_RET, 0, 0, trace if self.action is None else self.action)
        load = (_LD_ABS, 0, 0, _arg_low(self.arg))
        if self.masked:
            jeq = (_JEQ, 1, 0, self.masked_is)
            return [load, (_AND, 0, 0, self.masked), jeq, ret, (_RET, 0, 0, RET_ALLOW)]
        if self.equals is not None:
            return [load, (_JEQ, 0, 1, self.equals & 0xFFFFFFFF), ret, (_RET, 0, 0, RET_ALLOW)]
        if self.mask:
            return [load, (_JSET, 0, 1, self.mask), ret, (_RET, 0, 0, RET_ALLOW)]
        return [load, (_JGE, 1, 0, self.below), ret, (_RET, 0, 0, RET_ALLOW)]


_WRITE_FLAGS = 0x1 | 0x2 | 0x40 | 0x200  # O_WRONLY | O_RDWR | O_CREAT | O_TRUNC

# Argument checks that cut stops without losing what a rule needs.
DUP_ONTO_STDIO = {"dup2": ArgCheck(1, below=3), "dup3": ArgCheck(1, below=3)}
OPEN_FOR_WRITE = {"open": ArgCheck(1, mask=_WRITE_FLAGS), "openat": ArgCheck(2, mask=_WRITE_FLAGS)}
# A mapping that can put a page another process writes under the task's claims: all
# but private anonymous ones (mapping type MAP_PRIVATE, MAP_ANONYMOUS set; flags in
# args[3] on every architecture; i386's old_mmap passes a struct and always stops).
_MAP_TYPE_AND_ANON = 0x0F | 0x20
_NOT_PRIVATE_ANON = ArgCheck(3, masked=_MAP_TYPE_AND_ANON, masked_is=0x02 | 0x20)
SHARED_OR_FILE_MAPS = {"mmap": _NOT_PRIVATE_ANON, "mmap2": _NOT_PRIVATE_ANON}

# "allow", "trace" (the run's trace action), "ptrace" (always RET_TRACE: syscalls
# whose exit stop we take), "enosys" (refused, as if the kernel lacked it), or an
# argument check before the trace action.
Action = str | ArgCheck


def _intervals(actions: dict[int, Action]) -> list[tuple[int, Action]]:
    """[(start, action)], sorted, covering 0..2**32; unknown numbers trace."""
    out: list[tuple[int, Action]] = []
    prev: Action | None = None

    def add(start: int, act: Action) -> None:
        nonlocal prev
        if act != prev:
            out.append((start, act))
            prev = act

    expected = 0
    for nr in sorted(actions):
        if nr != expected:
            add(expected, "trace")  # a gap: numbers we do not know
        add(nr, actions[nr])
        expected = nr + 1
    add(expected, "trace")
    return out


def _leaf(act: Action, trace: int) -> list[Insn]:
    if isinstance(act, ArgCheck):
        return act.code(trace)
    ret = {"allow": RET_ALLOW, "ptrace": RET_TRACE, "enosys": RET_ENOSYS}.get(act, trace)
    return [(_RET, 0, 0, ret)]


def _tree(iv: Sequence[tuple[int, Action]], trace: int) -> list[Insn]:
    """Binary search over interval starts; A holds the syscall number."""
    if len(iv) == 1:
        return _leaf(iv[0][1], trace)
    mid = len(iv) // 2
    left, right = _tree(iv[:mid], trace), _tree(iv[mid:], trace)
    if len(left) <= 255:
        return [(_JGE, len(left), 0, iv[mid][0]), *left, *right]
    # Conditional jumps reach 255 instructions; hop further with JA.
    return [(_JGE, 0, 1, iv[mid][0]), (_JA, 0, 0, len(left)), *left, *right]


def _arch_actions(
    table: dict[int, str],
    traced: frozenset[str],
    checks: dict[str, Action],
    via_ptrace: frozenset[str],
    base: int = 0,
) -> dict[int, Action]:
    acts: dict[int, Action] = {}
    for nr, name in table.items():
        if name in via_ptrace:
            check = checks.get(name)
            ptraced = (
                dataclasses.replace(check, ptrace=True) if isinstance(check, ArgCheck) else None
            )
            acts[base + nr] = ptraced or "ptrace"
        elif name in traced:
            acts[base + nr] = checks.get(name, "trace")
        else:
            acts[base + nr] = "allow"
    return acts


def build_program(
    traced: frozenset[str],
    checks: dict[str, Action],
    trace: int = RET_TRACE,
    via_ptrace: frozenset[str] = frozenset(),
) -> list[Insn]:
    """The filter. `trace` is what a traced syscall returns (RET_TRACE or
    RET_USER_NOTIF); the names in `via_ptrace` return RET_TRACE regardless."""
    via = via_ptrace & traced
    x86 = _arch_actions(TABLES["x86_64"], traced, checks, via)
    x86 |= _arch_actions(TABLES["x32"], traced, checks, via, base=X32_SYSCALL_BIT)
    sections = [
        (AUDIT_ARCH_X86_64, x86),
        (AUDIT_ARCH_I386, _arch_actions(TABLES["i386"], traced, checks, via)),
        (AUDIT_ARCH_AARCH64, _arch_actions(TABLES["aarch64"], traced, checks, via)),
    ]
    bodies = [[(_LD_ABS, 0, 0, _OFF_NR), *_tree(_intervals(acts), trace)] for _, acts in sections]
    # Dispatch: per arch "jeq ARCH; ja BODY", unknown arch traced.
    head: list[Insn] = [(_LD_ABS, 0, 0, _OFF_ARCH)]
    n = len(sections)
    offset = 0  # distance from the end of the dispatch block to this body
    for i, (arch, _) in enumerate(sections):
        after_ja = 2 * (n - i - 1) + 1  # remaining dispatch pairs + the final ret
        head += [(_JEQ, 0, 1, arch), (_JA, 0, 0, after_ja + offset)]
        offset += len(bodies[i])
    head.append((_RET, 0, 0, trace))
    prog = head + [insn for body in bodies for insn in body]
    if len(prog) > 4096:
        raise ValueError(f"seccomp program too long: {len(prog)} instructions")
    return prog


def to_bytes(prog: list[Insn]) -> bytes:
    """The program as an array of struct sock_filter, for the capture core."""
    return b"".join(_INSN.pack(*insn) for insn in prog)


_INSN = struct.Struct("<HBBI")


def simulate(prog: list[Insn], arch: int, nr: int, args: Sequence[int] = (0,) * 6) -> int:
    """Run the program in Python, for tests: returns the seccomp action."""
    data = {_OFF_NR: nr, _OFF_ARCH: arch}
    for i, a in enumerate(args):
        data[_arg_low(i)] = a & 0xFFFFFFFF
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = prog[pc]
        pc += 1
        if code == _LD_ABS:
            acc = data.get(k, 0)
        elif code == _RET:
            return k
        elif code == _JA:
            pc += k
        elif code == _AND:
            acc &= k
        else:
            cond = {_JEQ: acc == k, _JGE: acc >= k, _JSET: bool(acc & k)}[code]
            pc += jt if cond else jf

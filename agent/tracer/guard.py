"""The agent's guard: what the application may not do to the agent, and the blind
spots it may not open without an alert.

Whatever the profile, these syscalls stop the application:

- kill, tkill, tgkill, pidfd_open, pidfd_send_signal, ptrace, process_vm_readv and
  process_vm_writev: the capture core resolves their target and refuses with EPERM
  what aims at the agent (its pid, one of its threads, its process group, kill(-1)),
  recording the attempt (tag `refused`). tgkill stops only when aimed at the agent's
  pid (a BPF argument check: the kernel refuses a tid outside the given group), so
  Go's preemption signals cost nothing.
- seccomp (an application's own listener), io_uring_setup (its operations are
  invisible to a syscall tracer; tracer.io_uring = "deny" refuses it with EPERM) and
  prctl(PR_SET_DUMPABLE) (a process the agent may not read without SYS_PTRACE): each
  recorded, for the default rules to alert on.
- With ptrace attached: clone with CLONE_UNTRACED stops (BPF argument check) and the
  core clears the flag, so the child is traced like any other; clone3 fails with
  ENOSYS (its flags are in memory, out of a BPF check's reach), so libcs use clone.

The core also makes the agent non-dumpable and drops CAP_SYS_PTRACE from the
application before exec (see guard_child() and Core.guard() in _core.c).
"""

from __future__ import annotations

from dataclasses import dataclass

from tracehound.agent.tracer.seccomp import RET_TRACE, Action, ArgCheck
from tracehound.agent.tracer.specs import ARCH_INDEX, SETID
from tracehound.agent.tracer.syscalls import TABLES

# Shared with _core.c: the OP_GUARD opcode, its kinds, and spec flags.
OP_GUARD = 10
GUARD_KILL, GUARD_PID, GUARD_PIDFD = 1, 2, 3
SPEC_DENY, SPEC_UNTRACED, SPEC_SETID = 4, 8, 16

# syscall -> (the argument naming the target, how it names it)
TARGETS: dict[str, tuple[int, int]] = {
    "kill": (0, GUARD_KILL),
    "tkill": (0, GUARD_PID),
    "tgkill": (0, GUARD_PID),
    "pidfd_open": (0, GUARD_PID),
    "pidfd_send_signal": (0, GUARD_PIDFD),
    "ptrace": (1, GUARD_PID),
    "process_vm_readv": (0, GUARD_PID),
    "process_vm_writev": (0, GUARD_PID),
}
BLIND_SPOTS = frozenset({"seccomp", "io_uring_setup", "prctl"})
PR_SET_DUMPABLE = 4
CLONE_UNTRACED = 0x00800000
IO_URING = ("alert", "deny")


@dataclass(frozen=True)
class Guard:
    agent_pid: int
    ptrace: bool  # ptrace is attached (backend ptrace, or notify with lifecycle)
    io_uring: str = "alert"

    def traced(self) -> frozenset[str]:
        extra = {"clone", "clone3"} if self.ptrace else set()
        return frozenset(TARGETS) | BLIND_SPOTS | extra

    def checks(self, profile: frozenset[str]) -> dict[str, Action]:
        """BPF argument checks for what the profile does not trace fully anyway."""
        out: dict[str, Action] = {}
        if "tgkill" not in profile:
            out["tgkill"] = ArgCheck(0, equals=self.agent_pid)
        if "prctl" not in profile:
            out["prctl"] = ArgCheck(0, equals=PR_SET_DUMPABLE)
        if self.ptrace:
            # RET_TRACE whatever the backend: only ptrace can change the flags.
            out["clone"] = ArgCheck(0, mask=CLONE_UNTRACED, action=RET_TRACE)
            out["clone3"] = "enosys"
        return out

    def specs(self, specs: list[tuple[int, int, int, bytes]]) -> list[tuple[int, int, int, bytes]]:
        """The core's specs with the guard's ops and flags added."""
        names = {index: TABLES[arch] for arch, index in ARCH_INDEX.items()}
        out = []
        for index, nr, flags, ops in specs:
            name = names[index].get(nr, "")
            if name in TARGETS:
                arg, kind = TARGETS[name]
                ops += bytes((OP_GUARD, arg, kind))
            if name == "io_uring_setup" and self.io_uring == "deny":
                flags |= SPEC_DENY
            if name == "clone":
                flags |= SPEC_UNTRACED
            if name in SETID:
                flags |= SPEC_SETID
            out.append((index, nr, flags, ops))
        return out

"""The agent's own CPU time, split by where it is spent (bench/agent_cpu.py reads it).

With TRACEHOUND_CPU_STATS set, the agent prints at exit one line
`tracehound: cpu stats {json}`: user and system seconds of the whole agent process
(every thread, RUSAGE_SELF), of the tracer thread (the capture core's stop loop:
waits, ioctl / ptrace, process_vm_readv, encoding), of the event-loop thread (decode,
process table, stage chain, router, sinks: the Python side), and of the children the
agent reaped (the application). The rest of the agent's time (self minus both threads)
is its other threads: the core's extra notify threads and anyio's worker threads.
"""

from __future__ import annotations

import resource

CPU_STATS_ENV = "TRACEHOUND_CPU_STATS"


def thread_cpu() -> tuple[float, float]:
    """The calling thread's user and system seconds so far."""
    ru = resource.getrusage(resource.RUSAGE_THREAD)
    return ru.ru_utime, ru.ru_stime


def cpu_stats(tracer_thread: tuple[float, float] | None) -> dict[str, float]:
    """Called on the event-loop thread once the tracer thread has ended."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    loop_user, loop_sys = thread_cpu()
    tr_user, tr_sys = tracer_thread or (0.0, 0.0)
    out = {
        "agent_user": me.ru_utime,
        "agent_sys": me.ru_stime,
        "tracer_user": tr_user,
        "tracer_sys": tr_sys,
        "loop_user": loop_user,
        "loop_sys": loop_sys,
        "other_user": me.ru_utime - tr_user - loop_user,
        "other_sys": me.ru_stime - tr_sys - loop_sys,
        "children_user": kids.ru_utime,
        "children_sys": kids.ru_stime,
    }
    return {k: round(v, 4) for k, v in out.items()}

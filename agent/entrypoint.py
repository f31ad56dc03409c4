"""`tracehound run`: the container entrypoint wrapper.

Order of events: validate the config and find the program (exit 2 / 126 / 127
before anything starts), become a child subreaper (so orphans are reaped even
when we are not PID 1), block the forwarded signals, open sinks, start the
tracer thread (which spawns the application), run the pipeline until the
application has exited and every event is drained, then flush the sinks within
the shutdown deadline and exit with the application's status.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import os
import sys
import threading
from pathlib import Path

import anyio

from tracehound.agent import outside
from tracehound.agent.config import Config
from tracehound.agent.cpu import CPU_STATS_ENV, cpu_stats
from tracehound.agent.pipeline import Pipeline, print_stats
from tracehound.agent.router import Router
from tracehound.agent.selection import for_config
from tracehound.agent.signals import Forwarder, block_forwarded
from tracehound.agent.tracer import _ptrace
from tracehound.agent.tracer.handoff import HandOff
from tracehound.agent.tracer.spawn import CommandNotRunnable, resolve_command
from tracehound.agent.tracer.tracer import Tracer
from tracehound.filters.chain import StageChain, build_chain
from tracehound.task import TaskInfo

log = logging.getLogger("tracehound")

# Let the tracer thread get the GIL back quickly when the loop thread is busy:
# every moment it waits, a stopped tracee waits too. 100 us measured best on
# bench W2 (5 ms default: 1.4x slower; 30 us: no better, more hand-offs).
_SWITCH_INTERVAL = 0.0001
# Events, records and their dicts are short-lived and free of cycles; the cyclic
# collector's default gen-0 threshold (700) would run it every few batches.
_GC_THRESHOLDS = (20_000, 50, 50)
# When the deadline passed before the stage chain stopped: how long it may still take
# (saving the baseline), inside the few seconds between our deadline and SIGKILL.
_LATE_CHAIN_STOP_SECS = 1.0


def run(cfg: Config, argv: list[str], base_dir: Path) -> int:
    try:
        path = resolve_command(argv[0], os.environ.get("PATH"))
    except CommandNotRunnable as exc:
        sys.stderr.write(f"tracehound: {exc}\n")
        return exc.status
    # Orphans come to us even when we are not PID 1 (PID 1 gets them anyway).
    with contextlib.suppress(OSError):
        _ptrace.prctl(_ptrace.PR_SET_CHILD_SUBREAPER, 1)
    block_forwarded()
    sys.setswitchinterval(_SWITCH_INTERVAL)
    gc.freeze()  # what start-up allocated (modules, config, rules) is never garbage
    gc.set_threshold(*_GC_THRESHOLDS)
    return anyio.run(_run, cfg, path, argv, base_dir)


async def _run(cfg: Config, path: str, argv: list[str], base_dir: Path) -> int:
    tc = cfg.tracer
    handoff = HandOff(
        tc.queue.max_events, block=tc.queue.when_full == "block", batch_max=tc.batch_max_events
    )
    task = TaskInfo()  # ECS metadata: fetched by the chain, read by the records and sinks
    chain = build_chain(cfg.filters, base_dir, task=task)
    # What stops the application follows from the loaded rules and the sinks.
    sel = for_config(cfg, chain.rules.rules if chain.rules is not None else ())
    tracer = Tracer(
        path,
        argv,
        dict(os.environ),
        profile="custom" if tc.profile == "auto" else tc.profile,
        syscalls=sorted(sel.traced) if tc.profile == "auto" else tc.syscalls,
        capture_results=sorted(sel.capture),
        argv_max=tc.argv_max,
        arg_max_bytes=tc.arg_max_bytes,
        handoff=handoff,
        backend=tc.backend,
        ptrace_placement=tc.ptrace_placement,
        verify=tc.verify,
        io_uring=tc.io_uring,
    )
    router = Router.from_config(cfg.sinks, task)
    if not router.takes_events:
        handoff.relevance = chain  # only what can alert or teach a stage is handed over
    drained = anyio.Event()
    chain_stopped = False
    # One task group owns the sink runners, the pipeline and the stats timers;
    # leaving it cancels whatever is left, and a failure in one is seen here.
    async with anyio.create_task_group() as tg:
        # The chain's start-up (ECS metadata, baseline) runs alongside the healthchecks.
        await router.start(
            cfg.agent.stats_interval_secs, tg=tg, alongside=functools.partial(chain.start, tg)
        )

        thread = threading.Thread(target=tracer.run, name="tracer", daemon=True)
        thread.start()
        await anyio.to_thread.run_sync(tracer.started.wait)
        if tracer.start_error is not None:
            sys.stderr.write(f"tracehound: cannot trace {argv[0]}: {tracer.start_error}\n")
            await router.stop(cfg.agent.shutdown_timeout_secs)
            tg.cancel_scope.cancel()
            return 1
        Forwarder(lambda: tracer.main_pid).start()
        if outside.enabled(tc.outside):
            tg.start_soon(
                _scan_outside, tracer, handoff, tc.outside_scan_secs, tc.outside_syscalls, thread
            )

        pipeline = Pipeline(
            handoff,
            chain,
            router,
            stats_interval=cfg.agent.stats_interval_secs,
            stats_source=tracer,
            queue_max_events=tc.queue.max_events,
            queue_max_bytes=tc.queue.max_bytes,
            queue_block=tc.queue.when_full == "block",
        )
        tg.start_soon(pipeline.report_periodically)
        tg.start_soon(_run_pipeline, pipeline, drained)
        await anyio.to_thread.run_sync(thread.join)  # the application and its tree are gone

        # The shutdown deadline (ECS sends SIGKILL at stopTimeout) is one cancel scope
        # around drain-then-flush: the events the tracer handed over, the chain, the sinks.
        with anyio.move_on_after(cfg.agent.shutdown_timeout_secs) as deadline:
            await drained.wait()
            chain_stopped = await _stop_chain(chain)
            await router.drain()
        if deadline.cancelled_caught and not drained.is_set():
            lost = pipeline.abandon()
            log.error("shutdown: the pipeline could not drain in time; %d events lost", lost)
        if not chain_stopped:
            with anyio.move_on_after(_LATE_CHAIN_STOP_SECS):
                await _stop_chain(chain)  # past the deadline: save the baseline if quick
        await router.stop()  # count what is left as dropped, close the sinks
        tg.cancel_scope.cancel()  # the pipeline (if it could not drain) and the timers
    pipeline.log_stats()
    if os.environ.get(CPU_STATS_ENV):
        print_stats("cpu", cpu_stats(tracer.thread_cpu))
    assert tracer.exit_status is not None
    return tracer.exit_status


async def _scan_outside(
    tracer: Tracer, handoff: HandOff, interval: float, syscalls: bool, thread: threading.Thread
) -> None:
    """Processes entered into the container from outside: followed with ptrace (their
    syscalls too, unless `syscalls` is off), else reported from /proc (agent/outside.py)."""
    ptrace = tracer.backend is not None and tracer.backend.ptrace
    scanner = outside.OutsideScanner(
        os.getpid(),
        adopt=lambda pid: ptrace and bool(tracer.core.adopt(pid, syscalls)),
        emit=handoff.injected.append,
    )
    how = "reported from /proc"
    if ptrace:
        how = "followed with ptrace" + (", their syscalls too" if syscalls else ", execs only")
    log.info("looking for processes outside the application every %gs (%s)", interval, how)
    failed = False
    while thread.is_alive():
        try:
            scanner.scan()
        except Exception:  # never take the agent (and so the application) down
            if not failed:
                log.exception("scan for processes outside the application failed")
            failed = True
        await anyio.sleep(interval)


async def _stop_chain(chain: StageChain) -> bool:
    try:
        await chain.stop()
    except Exception:
        log.exception("stage chain did not stop cleanly")
    return True


async def _run_pipeline(pipeline: Pipeline, drained: anyio.Event) -> None:
    try:
        await pipeline.run()
    except Exception:
        log.exception("pipeline stopped; the application keeps running, its events are lost")
        await pipeline.discard_until_closed()
    drained.set()

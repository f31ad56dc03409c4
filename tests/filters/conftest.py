"""Helpers for the stage-chain tests: hand-built processes and events."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from tracehound.event import Alert, Event, ProcInfo
from tracehound.filters.chain import StageChain, build_chain
from tracehound.filters.config import FiltersConfig
from tracehound.openflags import parse_open_flags

_pids = itertools.count(1000)
INIT = ProcInfo(1, 0, "tini", "/usr/bin/tini", ("tini", "--"), "/", 0, 0)


def proc(
    argv: tuple[str, ...] | str,
    *,
    exe: str | None = None,
    parent: ProcInfo | None = INIT,
    uid: int = 0,
    gid: int = 0,
    pid: int | None = None,
    name: str | None = None,
) -> ProcInfo:
    if isinstance(argv, str):
        argv = tuple(argv.split())
    exe = exe or (argv[0] if argv[0].startswith("/") else f"/usr/bin/{argv[0]}")
    return ProcInfo(
        pid or next(_pids),
        parent.pid if parent else 0,
        name or exe.rsplit("/", 1)[-1][:15],
        exe,
        argv,
        "/app",
        uid,
        gid,
        parent,
    )


def ev(etype: str, p: ProcInfo, ts: int | None = None, **fields: Any) -> Event:
    f = {k.replace("__", "."): v for k, v in fields.items()}
    return Event(ts or time.time_ns(), etype, p.pid, p, f)


def exec_ev(p: ProcInfo, **fields: Any) -> Event:
    return ev("execve", p, **fields)


def open_ev(p: ProcInfo, path: str, flags: str = "O_RDONLY") -> Event:
    """An openat as the decoder makes it: the flags as the int (written here by name)."""
    return ev("openat", p, fd__name=path, evt__arg__flags=parse_open_flags(flags))


def connect_ev(p: ProcInfo, ip: str, port: int) -> Event:
    return ev(
        "connect",
        p,
        fd__name=f"10.0.0.9:40000->{ip}:{port}",
        fd__sip=ip,
        fd__sport=port,
        fd__rip=ip,
        fd__rport=port,
        fd__l4proto="tcp",
        fd__sockfamily="ip",
        fd__type="ipv4",
    )


def make_config(**sections: Any) -> FiltersConfig:
    return msgspec.convert(sections, FiltersConfig)


def make_chain(tmp: Path | None = None, **sections: Any) -> StageChain:
    sections.setdefault("rules", {}).setdefault("rate_limit", {"rate": 0.0})
    return build_chain(make_config(**sections), tmp or Path.cwd())


@contextlib.asynccontextmanager
async def started(chain: StageChain) -> AsyncIterator[StageChain]:
    """The chain started in a task group of its own (as the agent does), stopped on exit."""
    async with anyio.create_task_group() as tg:
        await chain.start(tg)
        try:
            yield chain
        finally:
            await chain.stop()


def rules_hit(chain: StageChain, *events: Event) -> list[str]:
    _, alerts = chain.process(list(events))
    return [a.rule for a in alerts]


def alerts_of(chain: StageChain, *events: Event) -> list[Alert]:
    return chain.process(list(events))[1]


@pytest.fixture
def chain() -> StageChain:
    return make_chain()

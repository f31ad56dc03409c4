"""stdout sink: JSON lines, or a readable line per record on a terminal."""

from __future__ import annotations

import os
import sys
from typing import Literal

import anyio

from tracehound.agent.record import Record, encode_lines
from tracehound.sinks._common import BaseSink, SinkBase


class StdoutSinkConfig(SinkBase, tag="stdout"):
    # "auto": readable on a terminal, JSON lines otherwise.
    format: Literal["auto", "json", "readable"] = "auto"


def readable(rec: Record) -> str:
    f = rec["output_fields"]
    what = f.get("fd.name") or f.get("fd.sip") or f.get("proc.cmdline") or ""
    # Alerts show their priority; plain events are marked "evt" so they never
    # read like a low-priority alert.
    head = f"{rec['time'][11:23]} {rec.get('priority', 'evt')[:4]:4} "
    if "rule" in rec:
        return head + f"{rec['rule']}: {rec['output']}"
    return head + f"{f.get('proc.name')}[{f.get('proc.pid')}] {f.get('evt.type')} {what}"


class StdoutSink(BaseSink):
    def __init__(self, name: str, cfg: StdoutSinkConfig) -> None:
        super().__init__(name)
        self.cfg = cfg
        self._fd = -1
        self._readable = cfg.format == "readable" or (cfg.format == "auto" and sys.stdout.isatty())

    async def open(self) -> None:
        # A private duplicate: the application shares fd 1, we must not close it.
        self._fd = os.dup(1)

    async def send(self, records: list[Record]) -> None:
        if self._readable:
            data = "".join(readable(r) + "\n" for r in records).encode()
        else:
            data = encode_lines(records)
        # A pipe whose reader is slow blocks write(); keep that off the event loop.
        await anyio.to_thread.run_sync(_write_all, self._fd, data)

    async def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]

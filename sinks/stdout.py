"""stdout sink: JSON lines, or a readable line per record on a terminal."""

from __future__ import annotations

import os
import sys

from agent.record import Record, encode_lines
from sinks._common import SinkBase


class StdoutSinkConfig(SinkBase, tag="stdout"):
    # "auto": readable on a terminal, JSON lines otherwise.
    format: str = "auto"


def readable(rec: Record) -> str:
    f = rec["output_fields"]
    what = f.get("fd.name") or f.get("proc.cmdline") or ""
    head = f"{rec['time'][11:23]} {rec.get('priority', 'Debug')[:4]:4} "
    if "rule" in rec:
        return head + f"{rec['rule']}: {rec['output']}"
    return head + f"{f.get('proc.name')}[{f.get('proc.pid')}] {f.get('evt.type')} {what}"


class StdoutSink:
    def __init__(self, name: str, cfg: StdoutSinkConfig) -> None:
        self.name = name
        self.cfg = cfg
        self._fd = 1
        self._readable = cfg.format == "readable" or (cfg.format == "auto" and sys.stdout.isatty())

    async def open(self) -> None:
        # A private duplicate: the application shares fd 1, we must not close it.
        self._fd = os.dup(1)

    async def send(self, records: list[Record]) -> None:
        if self._readable:
            data = "".join(readable(r) + "\n" for r in records).encode()
        else:
            data = encode_lines(records)
        os.write(self._fd, data)

    async def close(self) -> None:
        os.close(self._fd)

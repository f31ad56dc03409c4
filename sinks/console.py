"""console sink: records for a person on the agent's stderr (default) or stdout.

Vector's console sink: `type = "console"`, `target = "stderr" | "stdout"`. The
default target is stderr so the application's stdout, which it shares with the
agent, carries only the application's own output. `format = "auto"` writes a
readable line per record when the target is a terminal, JSON lines otherwise.
`type = "stdout"` is the old name: still accepted, with a deprecation warning.
"""

from __future__ import annotations

import os
from typing import Literal

import anyio

from tracehound.record import Record, alert_message, encode_lines
from tracehound.sinks._common import BaseSink, SinkBase

_FDS = {"stdout": 1, "stderr": 2}


class ConsoleSinkConfig(SinkBase, tag="console"):
    target: Literal["stderr", "stdout"] = "stderr"
    # "auto": readable on a terminal, JSON lines otherwise.
    format: Literal["auto", "json", "readable"] = "auto"


class StdoutSinkConfig(ConsoleSinkConfig, tag="stdout"):
    """Deprecated spelling of `type = "console"` with `target = "stdout"`."""

    target: Literal["stderr", "stdout"] = "stdout"


DEPRECATED_STDOUT = (
    '"stdout" is deprecated: use type = "console" with target = "stdout"'
    " (or the default target, stderr, to keep the application's stdout clean)"
)


# Control characters (C0, DEL, C1) shown escaped: an argument or a file name must
# never end a line early and forge one of ours, nor move a terminal's cursor.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}


def readable(rec: Record) -> str:
    return _readable(rec).translate(_CONTROLS)


def _readable(rec: Record) -> str:
    f = rec["output_fields"]
    what = f.get("fd.name") or f.get("fd.sip") or f.get("proc.cmdline") or ""
    # Alerts show their priority; plain events are marked "evt" so they never
    # read like a low-priority alert.
    head = f"{rec['time'][11:23]} {rec.get('priority', 'evt')[:4]:4} "
    if "rule" in rec:
        return head + f"{rec['rule']}: {alert_message(rec)}"
    return head + f"{f.get('proc.name')}[{f.get('proc.pid')}] {f.get('evt.type')} {what}"


class ConsoleSink(BaseSink):
    def __init__(self, name: str, cfg: ConsoleSinkConfig) -> None:
        super().__init__(name)
        self.cfg = cfg
        self._fd = -1
        target = _FDS[cfg.target]
        self._readable = cfg.format == "readable" or (cfg.format == "auto" and os.isatty(target))

    async def open(self) -> None:
        # A private duplicate: the application shares fds 1 and 2, we must not close them.
        self._fd = os.dup(_FDS[self.cfg.target])

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

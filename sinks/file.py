"""file sink: JSON lines appended to a path."""

from __future__ import annotations

import os

from agent.record import Record, encode_lines
from sinks._common import SinkBase


class FileSinkConfig(SinkBase, tag="file"):
    path: str


class FileSink:
    def __init__(self, name: str, cfg: FileSinkConfig) -> None:
        self.name = name
        self.cfg = cfg
        self._fd = -1

    async def open(self) -> None:
        parent = os.path.dirname(self.cfg.path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        self._fd = os.open(self.cfg.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    async def send(self, records: list[Record]) -> None:
        os.write(self._fd, encode_lines(records))

    async def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

"""file sink: JSON lines appended to a path, rotated by size, optional fsync per batch."""

from __future__ import annotations

import os
from typing import Literal

import anyio

from tracehound.config_checks import Problem, int_between, not_empty
from tracehound.record import Record, encode
from tracehound.sinks._common import BaseSink, SinkBase
from tracehound.sinks.ocsf import encode_ocsf


class FileSinkConfig(SinkBase, tag="file"):
    path: str
    # Rotate when the file would grow past this many bytes (0 = never rotate).
    max_bytes: int = 0
    # Rotated files kept beside the current one: path.1 (newest) ... path.N.
    max_files: int = 5
    # fsync after each batch: survives a crash of the host, costs a disk flush per batch.
    fsync: bool = False
    # json: the record as it is (Falco's envelope); ocsf: OCSF 1.7 objects (sinks/ocsf.py).
    encoding: Literal["json", "ocsf"] = "json"

    def problems(self) -> list[Problem | None]:
        return [
            not_empty("path", self.path),
            int_between("max_bytes", self.max_bytes, 0, 1 << 40),
            int_between("max_files", self.max_files, 0, 1000),
        ]


class FileSink(BaseSink):
    def __init__(self, name: str, cfg: FileSinkConfig) -> None:
        super().__init__(name)
        self.cfg = cfg
        self._fd = -1
        self._size = 0

    async def open(self) -> None:
        await anyio.to_thread.run_sync(self._open)

    def _open(self) -> None:
        parent = os.path.dirname(self.cfg.path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self._fd = os.open(self.cfg.path, flags, 0o640)
        self._size = os.fstat(self._fd).st_size

    async def healthcheck(self) -> None:
        if not os.access(self.cfg.path, os.W_OK):
            raise OSError(f"{self.cfg.path} is not writable")

    async def send(self, records: list[Record]) -> None:
        # In a thread: a slow disk (or fsync) must not stall the event loop and other sinks.
        enc = encode_ocsf if self.cfg.encoding == "ocsf" else encode
        await anyio.to_thread.run_sync(self._write, [enc(r) + b"\n" for r in records])

    def _write(self, lines: list[bytes]) -> None:
        if self._fd < 0:
            self._open()
        limit = self.cfg.max_bytes
        if not limit:
            self._write_all(b"".join(lines))
        else:
            # Cut the batch where the file would pass max_bytes: rotation keeps whole lines,
            # and a file only exceeds the limit when a single record does.
            chunk: list[bytes] = []
            size = self._size
            for line in lines:
                if size and size + len(line) > limit:
                    self._write_all(b"".join(chunk))
                    chunk = []
                    self._rotate()
                    size = 0
                chunk.append(line)
                size += len(line)
            self._write_all(b"".join(chunk))
        if self.cfg.fsync:
            os.fsync(self._fd)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
            self._size += n

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = -1
        path, keep = self.cfg.path, self.cfg.max_files
        if keep == 0:
            os.unlink(path)
        else:
            for i in range(keep - 1, 0, -1):
                if os.path.exists(f"{path}.{i}"):
                    os.replace(f"{path}.{i}", f"{path}.{i + 1}")
            os.replace(path, f"{path}.1")
        self._open()

    async def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            await anyio.to_thread.run_sync(os.close, fd)

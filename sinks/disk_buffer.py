"""buffer.type = "disk": a sink's records wait in a bounded, crash-safe log on disk.

Every record is appended to the log when it is routed, and leaves it only when its
batch is done (delivered, or counted as dropped by the runner). So an outage of any
length up to the disk bound costs no memory, and a crash of the agent (SIGKILL, OOM)
loses nothing: the next agent in the task (a container restart keeps the task's
ephemeral storage) opens the same directory and delivers what is left, in order,
before anything new. Delivery is at least once: a batch sent but not yet marked done
when the agent died is sent again.

Layout of buffer.path/<sink name>/: numbered segment files of frames
(u32 length, u32 crc32, JSON record), a `cursor` file (segment and offset of the
first record not yet done; replaced atomically) and a `lock` (one agent per
directory). A frame cut short or damaged (a write torn by a crash of the host) ends
its segment: the rest is counted as dropped ("disk_corrupt") when the log is opened.
Segments wholly done are deleted, which is how the log gives its space back; the
bound (max_disk_size) counts the bytes of the segment files.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import logging
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import anyio
import msgspec

from tracehound.record import Record
from tracehound.sinks import Sink
from tracehound.sinks._common import SinkBase
from tracehound.sinks.runner import SinkRunner, _describe

log = logging.getLogger("tracehound")

_HEADER = struct.Struct("<II")  # payload length, crc32 of the payload
# A batch sent with a disk buffer is retried until it is delivered or refused for good:
# the disk bound, not the retry budget, decides how long an outage can last.
UNLIMITED_RETRIES = 2**31


def _seg_name(n: int) -> str:
    return f"{n:016d}.seg"


class DiskLog:
    """The file side, synchronous: append, read from the cursor, advance the cursor."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.dir = directory
        self.max_bytes = max_bytes
        # Small enough that a done segment gives back a useful share of the bound.
        self.segment_bytes = max(64 * 1024, min(8 * 1024 * 1024, max_bytes // 8))
        self.segments: list[int] = []  # numbers, oldest first
        self.sizes: dict[int, int] = {}
        self.cursor: tuple[int, int] = (0, 0)  # (segment, offset) of the first record not done
        self.pending = 0  # records not done
        self.pending_bytes = 0  # their JSON bytes
        self._wfd = -1
        self._lock_fd = -1

    @property
    def size(self) -> int:
        return sum(self.sizes.values())

    def open(self) -> int:
        """Lock the directory, find the cursor, count what is pending. Returns how many
        records were lost to damaged frames (counted as dropped by the caller)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = -1
            raise OSError(f"{self.dir} is in use by another tracehound agent") from None
        self.segments = sorted(int(p.stem) for p in self.dir.glob("*.seg") if p.stem.isdigit())
        self.sizes = {n: (self.dir / _seg_name(n)).stat().st_size for n in self.segments}
        self.cursor = self._read_cursor()
        for n in [n for n in self.segments if n < self.cursor[0]]:  # done, not yet deleted
            self._delete(n)
        lost = 0
        for n in list(self.segments):
            start = self.cursor[1] if n == self.cursor[0] else 0
            count, nbytes, good_end = self._scan(n, start)
            self.pending += count
            self.pending_bytes += nbytes
            if good_end < self.sizes[n]:  # a damaged tail: cut it off
                lost += 1
                os.truncate(self.dir / _seg_name(n), good_end)
                self.sizes[n] = good_end
        if not self.segments:
            self.segments = [self.cursor[0] or 1]
            self.sizes[self.segments[0]] = 0
            self.cursor = (self.segments[0], 0)
        elif self.cursor[0] not in self.sizes:
            self.cursor = (self.segments[0], 0)
        self._open_writer(self.segments[-1])
        return lost

    def _read_cursor(self) -> tuple[int, int]:
        try:
            seg, off = (self.dir / "cursor").read_text().split()
            return int(seg), int(off)
        except (OSError, ValueError):
            return (self.segments[0], 0) if self.segments else (0, 0)

    def _scan(self, n: int, start: int) -> tuple[int, int, int]:
        """(records, payload bytes, end of the last good frame) of segment n from start."""
        data = (self.dir / _seg_name(n)).read_bytes()
        pos, count, nbytes = start, 0, 0
        while pos + _HEADER.size <= len(data):
            length, crc = _HEADER.unpack_from(data, pos)
            body = data[pos + _HEADER.size : pos + _HEADER.size + length]
            if len(body) < length or zlib.crc32(body) != crc:
                break
            pos += _HEADER.size + length
            count += 1
            nbytes += length
        return count, nbytes, pos

    def _open_writer(self, n: int) -> None:
        if self._wfd >= 0:
            os.close(self._wfd)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self._wfd = os.open(self.dir / _seg_name(n), flags, 0o600)
        self.sizes.setdefault(n, 0)

    def append(self, payloads: list[bytes]) -> int:
        """Append as many records as fit under the bound, in order; return how many.
        One write() per call: a crash of the agent never leaves half of it behind."""
        room = self.max_bytes - self.size
        frames: list[bytes] = []
        n = 0
        for p in payloads:
            need = _HEADER.size + len(p)
            if need > room:
                break
            frames.append(_HEADER.pack(len(p), zlib.crc32(p)))
            frames.append(p)
            room -= need
            n += 1
        if not n:
            return 0
        cur = self.segments[-1]
        if self.sizes[cur] >= self.segment_bytes:
            cur += 1
            self.segments.append(cur)
            self._open_writer(cur)
        data = b"".join(frames)
        view = memoryview(data)
        while view:
            view = view[os.write(self._wfd, view) :]
        self.sizes[cur] += len(data)
        self.pending += n
        self.pending_bytes += sum(len(p) for p in payloads[:n])
        return n

    def read(self, max_records: int, max_bytes: int) -> tuple[list[bytes], tuple[int, int]]:
        """Up to max_records (and about max_bytes) from the cursor, and the position after
        them. Nothing is done until ack(). Reads only what it returns (buffered, in
        order), so a batch costs its own size whatever the segment's."""
        out: list[bytes] = []
        seg, off = self.cursor
        total = 0
        for n in self.segments:
            if n < seg:
                continue
            pos, size = (off if n == seg else 0), self.sizes[n]
            with open(self.dir / _seg_name(n), "rb") as f:
                f.seek(pos)
                while pos + _HEADER.size <= size:
                    if len(out) >= max_records:
                        return out, (n, pos)
                    length, _crc = _HEADER.unpack(f.read(_HEADER.size))
                    if out and total + length > max_bytes:
                        return out, (n, pos)
                    out.append(f.read(length))
                    total += length
                    pos += _HEADER.size + length
        last = self.segments[-1]
        return out, (last, self.sizes[last])

    def ack(self, end: tuple[int, int], records: list[bytes]) -> None:
        """The records read up to `end` are done: move the cursor, delete done segments."""
        self.cursor = end
        tmp = self.dir / "cursor.tmp"
        tmp.write_text(f"{end[0]} {end[1]}\n")
        os.replace(tmp, self.dir / "cursor")
        self.pending -= len(records)
        self.pending_bytes -= sum(len(r) for r in records)
        for n in [n for n in self.segments if n < end[0]]:
            self._delete(n)
        if end[0] == self.segments[-1] and end[1] == self.sizes[end[0]] and end[1] > 0:
            # All done: start a fresh segment so the old one can go.
            nxt = end[0] + 1
            self.segments.append(nxt)
            self._open_writer(nxt)
            self.cursor = (nxt, 0)
            (self.dir / "cursor.tmp").write_text(f"{nxt} 0\n")
            os.replace(self.dir / "cursor.tmp", self.dir / "cursor")
            self._delete(end[0])

    def _delete(self, n: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.dir / _seg_name(n))
        if n in self.segments:
            self.segments.remove(n)
        self.sizes.pop(n, None)

    def close(self) -> None:
        for fd in (self._wfd, self._lock_fd):
            if fd >= 0:
                os.close(fd)
        self._wfd = self._lock_fd = -1


class DiskRunner(SinkRunner):
    """SinkRunner whose buffer is a DiskLog instead of a memory stream. Batching,
    splitting, retries and counting are the runner's; what is left at shutdown stays
    on disk (reported as buffered) for the next agent instead of being dropped."""

    def __init__(self, name: str, cfg: SinkBase, sink: Sink, **kw: Any) -> None:
        # Copies, changed by assignment: the config's own bound on retry_attempts is for
        # what a user writes, and this runner's copy is not.
        request = copy.copy(cfg.request)
        request.retry_attempts = UNLIMITED_RETRIES
        own = copy.copy(cfg)
        own.request = request
        super().__init__(name, own, sink, **kw)
        assert cfg.buffer.path is not None
        self.log = DiskLog(Path(cfg.buffer.path) / name, cfg.buffer.max_disk_size)
        self._log_ok = False
        self._log_tried = False
        self._decode = msgspec.json.Decoder(dict[str, Any]).decode
        self._task = getattr(sink, "task", None)

    @staticmethod
    def _frame(rec: Record) -> bytes:
        """What goes to disk: the record's time in ns, then its JSON (encoded once)."""
        return rec.ts_ns.to_bytes(8, "little") + rec.data

    def _unframe(self, payload: bytes) -> Record:
        ts_ns = int.from_bytes(payload[:8], "little")
        return Record(self._decode(payload[8:]), ts_ns, self._task)

    def _open_log(self) -> None:
        if self._log_tried:
            return
        self._log_tried = True
        try:
            self.stats.drop("disk_corrupt", self.log.open())
            self._log_ok = True
            if self.log.pending:
                log.warning(
                    "sink %s: %d records left by an earlier agent in %s are sent first",
                    self.name,
                    self.log.pending,
                    self.log.dir,
                )
        except OSError as exc:
            self._note_error(f"disk buffer: {_describe(exc)}")
            log.error("sink %s: disk buffer unusable, records are dropped: %s", self.name, exc)

    async def start(self, tg: Any) -> None:
        self._open_log()
        await super().start(tg)

    @property
    def buffered(self) -> int:
        return self.log.pending

    def _batch_full(self) -> bool:
        b = self.cfg.batch
        return self.log.pending >= b.max_events or self.log.pending_bytes >= b.max_bytes

    def offer(self, records: list[Record], sizes: list[int]) -> int:
        self._open_log()
        if not self._log_ok or self._finished.is_set():
            reason = "disk_unavailable" if not self._log_ok else self._closed_reason()
            self.stats.drop(reason, len(records))
            return len(records)
        try:
            n = self.log.append([self._frame(r) for r in records])
        except OSError as exc:  # ENOSPC, EIO: count, never raise into the pipeline
            self._note_error(f"disk buffer write: {_describe(exc)}")
            n = 0
        self.stats.drop("disk_full", len(records) - n)
        if n:
            self._data.set()
        return len(records)

    async def put(self, records: list[Record], sizes: list[int]) -> None:
        self.offer(records, sizes)

    async def _run(self, scope: anyio.CancelScope) -> None:
        with scope:
            try:
                b = self.cfg.batch
                while True:
                    while not self.log.pending:
                        if self._stopping:
                            return
                        await self._wait_for_more()
                    if not self._stopping and not self._batch_full():
                        with anyio.move_on_after(b.timeout_secs):
                            while not self._batch_full() and not self._stopping:
                                await self._wait_for_more()
                    payloads, end = self.log.read(b.max_events, b.max_bytes)
                    await self._deliver([self._unframe(p) for p in payloads])
                    self.log.ack(end, payloads)
            except Exception as exc:  # the records stay on disk for the next agent
                log.exception("sink %s: runner failed; records stay on disk", self.name)
                self._note_error(f"runner failed: {_describe(exc)}")
                self._failed = True
            finally:
                self._finished.set()

    async def abort(self) -> None:
        """Stop now. What is not done stays on disk: not dropped, sent by the next agent."""
        self._stopping = True
        if self._scope is not None:
            self._scope.cancel()
            await self.wait_finished()
        self._finished.set()
        self._inflight = []
        if self._log_ok and self.log.pending:
            log.warning(
                "sink %s: %d records kept on disk in %s for the next start",
                self.name,
                self.log.pending,
                self.log.dir,
            )

    async def close(self) -> None:
        await super().close()
        self.log.close()

    def snapshot(self) -> dict[str, Any]:
        out = super().snapshot()
        out["buffered"] = self.log.pending
        out["disk_bytes"] = self.log.size
        return out


def make_runner(name: str, cfg: SinkBase, sink: Sink) -> SinkRunner:
    """The runner a sink's buffer.type asks for."""
    if cfg.buffer.type == "disk":
        return DiskRunner(name, cfg, sink)
    return SinkRunner(name, cfg, sink)

"""Parse what the capture core hands over: a byte string of records.

Each record is a fixed little-endian head (struct RecHead in _core.c), then
`nblobs` blobs, each a small head (tag, argument index, length) and its bytes:
the strings, addresses and /proc values the core read at the stop.

    head: len u32, kind u8, flags u8, nblobs u16, tid i32, arch u32, nr i32,
          ts u64 (ns since the epoch), args 6 x u64, res i64
    blob: tag u8, arg u8, pad u16, len u32, bytes
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

KIND_SYSCALL, KIND_NEW_TASK, KIND_EXEC, KIND_EXIT = 1, 3, 4, 5
FLAG_RESULT = 1
FLAG_DENIED = 0x10  # the agent's guard refused the call (evt.res holds -EPERM)
FLAG_UNREADABLE = 0x20  # reading the tracee's memory was refused (EPERM)
FLAG_UNTRACED = 0x40  # clone asked for CLONE_UNTRACED; the guard cleared it
FLAG_RACED = 0x80  # an open recorded without its exit whose path changed while it ran

_HEAD = struct.Struct("<IBBHiIiQ6Qq")
_BLOB = struct.Struct("<BBHI")
HEAD_SIZE = _HEAD.size


@dataclass(slots=True)
class Raw:
    """One record as the core wrote it."""

    kind: int
    flags: int
    tid: int
    arch: int
    nr: int
    ts: int
    args: tuple[int, ...]
    res: int
    blobs: dict[tuple[int, int], bytes]  # (tag, arg) -> bytes

    @property
    def has_result(self) -> bool:
        return bool(self.flags & FLAG_RESULT)

    def blob(self, tag: int, arg: int = 0) -> bytes | None:
        return self.blobs.get((tag, arg))


def record_at(data: bytes, off: int) -> Raw:
    """The record starting at `off`."""
    return next(parse(data, off, off + 1))


_PEEK = struct.Struct("<IBB")  # len, kind, flags
_TID_TS = struct.Struct("<8xi8xQ")  # tid, ts
peek = _PEEK.unpack_from  # (len, kind, flags) of the record at an offset
tid_ts = _TID_TS.unpack_from  # (tid, ts) of the record at an offset


def content_key(data: bytes, off: int, length: int) -> bytes:
    """A record's bytes except its thread id and time: two records with equal keys
    decode to equal fields (decode.py reads neither)."""
    return data[off + 4 : off + 8] + data[off + 12 : off + 20] + data[off + 28 : off + length]


def parse(data: bytes, off: int = 0, end: int | None = None) -> Iterator[Raw]:
    """The records of `data` (from `off`; those that start before `end`)."""
    head, blob_head = _HEAD.unpack_from, _BLOB.unpack_from
    hsize, bsize = _HEAD.size, _BLOB.size
    view = memoryview(data)
    end = len(data) if end is None else end
    while off < end:
        length, kind, flags, nblobs, tid, arch, nr, ts, *rest = head(data, off)
        blobs: dict[tuple[int, int], bytes] = {}
        pos = off + hsize
        for _ in range(nblobs):
            tag, arg, _pad, blen = blob_head(data, pos)
            pos += bsize
            blobs[(tag, arg)] = bytes(view[pos : pos + blen])
            pos += blen
        yield Raw(kind, flags, tid, arch, nr, ts, tuple(rest[:6]), rest[6], blobs)
        off += length

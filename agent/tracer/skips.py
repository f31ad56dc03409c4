"""Exit stops nobody needs: the pipeline's verdicts, pushed down to the capture core.

When no sink takes events (alerts only), an open's exit stop (its result, the kernel's
truth) is worth its cost only if the result could make a difference. The core gives
each captured open of a task whose memory no other task shares an entry key
(T_ENTRYKEY: a keyed hash of the entry record and the thread, with the device and
inode its claimed path leads to, T_CLAIMSTAT, or for a plain absolute path where it
led when learned, vouched for by the path watch). Once such an open came back with its
result and nothing in it was a surprise (no swap, the opened file is the one the claim
led to), the stage chain is asked about the event with its result hidden
(truth.entry_only): if no rule, stage or count could use it whatever the result, the
key is pushed down, and the core skips the exit stop of the next equal opens and
leaves their records out (_core.c, "exit stops nobody needs", also says when the core
forgets).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from tracehound.agent.tracer import truth
from tracehound.agent.tracer.specs import T_CLAIMSTAT, T_ENTRYKEY
from tracehound.agent.tracer.wire import Raw
from tracehound.event import Event

_CLAIMSTAT = struct.Struct("<QQii")  # ClaimStat in _core.c: dev, ino, errno, pad


class ExitSkips:
    def __init__(self, core: Any) -> None:
        self.core = core
        self.epoch: int | None = None  # the relevance epoch the core's verdicts are from
        self.pushed = 0

    def offer(
        self, r: Raw, event: Event, epoch: int, quiet: bool, matters: Callable[[Event], bool]
    ) -> None:
        """After decoding `r` into `event`: push its key if its exit was not needed.
        `quiet`: no write handed over is still on its way to the chain."""
        raw_key = r.blob(T_ENTRYKEY)
        if raw_key is None or not r.has_result:
            return
        if epoch != self.epoch:  # the chain learned something: earlier verdicts may be stale
            self.epoch = epoch
            self.core.skip_forget()
            return
        if not quiet or not self._unsurprising(r, event.fields):
            return
        fields = truth.entry_only(event.fields)
        probe = Event(event.ts, event.type, event.tid, event.proc, fields, set(event.tags))
        if matters(probe):
            return
        self.core.skip_exit(raw_key)
        self.pushed += 1

    @staticmethod
    def _unsurprising(r: Raw, fields: dict[str, Any]) -> bool:
        """The exit told nothing the entry did not: no swap, and (with tracer.verify)
        the opened file is the one the claimed path led to at entry. A claim naming the
        file another way (a symlinked directory such as /lib -> usr/lib, "..") is no
        surprise: the key holds the file it led to, and the probe asked about the
        kernel's name (fd.name) while a skipped open is judged by its claim."""
        if truth.MISMATCH in fields:
            return False
        if r.res < 0 or "fd.ino" not in fields:
            return True  # failed (no file), or verify off: only the result was read
        cs = r.blob(T_CLAIMSTAT)
        if cs is None or len(cs) < _CLAIMSTAT.size:
            return False
        dev, ino, err, _ = _CLAIMSTAT.unpack_from(cs)
        return not err and (dev, ino) == (fields.get("fd.dev"), fields["fd.ino"])

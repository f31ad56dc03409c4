"""Record times (RFC 3339 strings, as Falco writes them) back to numbers."""

from __future__ import annotations

import calendar
import time
from functools import lru_cache

from tracehound.record import Record


@lru_cache(maxsize=256)
def _epoch_secs(prefix: str) -> int:
    # Records of one batch share a handful of distinct seconds; parse each once.
    return calendar.timegm(time.strptime(prefix, "%Y-%m-%dT%H:%M:%S"))


def record_ns(rec: Record) -> int:
    """Nanoseconds since the epoch; the current time if the record has no usable time."""
    t = rec.get("time")
    if not isinstance(t, str) or len(t) < 19:
        return time.time_ns()
    try:
        secs = _epoch_secs(t[:19])
    except ValueError:
        return time.time_ns()
    frac = t[20:].rstrip("Z") if len(t) > 20 and t[19] == "." else ""
    nanos = int((frac + "000000000")[:9]) if frac.isdigit() else 0
    return secs * 1_000_000_000 + nanos


def record_ms(rec: Record) -> int:
    return record_ns(rec) // 1_000_000

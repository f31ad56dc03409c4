"""Sampling: keep a fraction of high-volume event types.

The chain asks `should_drop(e)` first and only then checks whether a rule (or the
baseline) would alert on the event, so sampled-out events never hide an alert.
Process executions are never sampled.
"""

from __future__ import annotations

import random
import zlib

from tracehound.event import Event
from tracehound.families import EXEC, LIFECYCLE
from tracehound.filters.config import SamplingConfig

NEVER_SAMPLED = EXEC | LIFECYCLE
_MIX = 0x9E3779B97F4A7C15  # 64-bit golden ratio: spreads pids over the hash space
_MASK = (1 << 64) - 1


def _unit(pid: int, etype: str, seed: int) -> float:
    """A stable value in [0, 1) for (pid, type, seed): same answer in every run."""
    h = ((pid + 1) * _MIX ^ zlib.crc32(etype.encode()) * 0xFF51AFD7ED558CCD ^ seed) & _MASK
    h = ((h ^ (h >> 33)) * 0xC4CEB9FE1A85EC53) & _MASK
    h ^= h >> 33
    return (h >> 11) / float(1 << 53)


class Sampler:
    def __init__(self, cfg: SamplingConfig) -> None:
        self.rates = {t: r for t, r in cfg.rates.items() if r < 1.0 and t not in NEVER_SAMPLED}
        self.per_process = cfg.per_process
        self._rand = random.Random(cfg.seed).random
        self._seed = cfg.seed
        self._decided: dict[tuple[int, str], bool] = {}
        self.dropped: dict[str, int] = {}
        self.kept_for_alert = 0

    @property
    def active(self) -> bool:
        return bool(self.rates)

    def should_drop(self, e: Event) -> bool:
        rate = self.rates.get(e.type)
        if rate is None:
            return False
        if not self.per_process:
            return self._rand() >= rate
        key = (e.proc.pid, e.type)
        drop = self._decided.get(key)
        if drop is None:
            drop = _unit(e.proc.pid, e.type, self._seed) >= rate
            if len(self._decided) > 100_000:
                self._decided.clear()
            self._decided[key] = drop
        return drop

    def count_drop(self, e: Event) -> None:
        self.dropped[e.type] = self.dropped.get(e.type, 0) + 1

    def stats(self) -> dict[str, int]:
        return {
            "sampled_out": sum(self.dropped.values()),
            "sampled_kept_for_alert": self.kept_for_alert,
            **{f"sampled_out.{t}": n for t, n in sorted(self.dropped.items())},
        }

"""Options every sink shares (Vector's names): inputs, priority, buffer, batch, request."""

from __future__ import annotations

from typing import Literal

import msgspec

from tracehound.agent.event import parse_priority
from tracehound.agent.record import Record


class BufferConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    max_events: int = 10_000
    when_full: Literal["block", "drop_newest"] = "block"

    def __post_init__(self) -> None:
        if self.max_events < 1:
            raise ValueError("buffer.max_events must be at least 1")


class BatchConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    max_events: int = 1000
    max_bytes: int = 1_000_000
    timeout_secs: float = 1.0

    def __post_init__(self) -> None:
        if self.max_events < 1 or self.max_bytes < 1 or self.timeout_secs <= 0:
            raise ValueError("batch limits must be positive")


class RequestConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    retry_attempts: int = 10
    retry_initial_backoff_secs: float = 1.0
    retry_max_duration_secs: float = 30.0
    timeout_secs: float = 60.0

    def __post_init__(self) -> None:
        if self.retry_attempts < 0 or self.retry_initial_backoff_secs <= 0:
            raise ValueError("retry_attempts must be >= 0 and retry_initial_backoff_secs > 0")
        if self.retry_max_duration_secs <= 0 or self.timeout_secs <= 0:
            raise ValueError("retry_max_duration_secs and timeout_secs must be > 0")


class HealthcheckConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True


class SinkBase(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, tag_field="type"):
    inputs: list[Literal["events", "alerts"]] = msgspec.field(default_factory=lambda: ["alerts"])
    minimum_priority: str = "debug"
    buffer: BufferConfig = msgspec.field(default_factory=BufferConfig)
    batch: BatchConfig = msgspec.field(default_factory=BatchConfig)
    request: RequestConfig = msgspec.field(default_factory=RequestConfig)
    healthcheck: HealthcheckConfig = msgspec.field(default_factory=HealthcheckConfig)

    @property
    def type(self) -> str:
        """The TOML `type` of this sink (msgspec keeps the tag out of the attributes)."""
        return str(self.__struct_config__.tag)

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ValueError("inputs must name at least one of 'events', 'alerts'")
        self.minimum_priority = parse_priority(self.minimum_priority)


class BaseSink:
    """Defaults for the optional parts of the Sink protocol; concrete sinks override what they need.

    A sink only does I/O. Buffering, batching, retries and counting live in agent/runner.py.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        # Sink-specific counters (truncated events, function errors...), merged into the stats.
        self.counters: dict[str, int] = {}

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def healthcheck(self) -> None:
        return None

    def split(self, records: list[Record]) -> list[list[Record]]:
        """Cut a batch into requests the destination accepts. Records left out are counted
        by the runner as dropped (reason "too_large"), so leaving one out is never silent."""
        return [records]

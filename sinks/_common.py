"""Options every sink shares (Vector's names): inputs, priority, buffer, batch, request."""

from __future__ import annotations

from typing import Literal

import msgspec

from agent.event import parse_priority


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


class SinkBase(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, tag_field="type"):
    inputs: list[Literal["events", "alerts"]] = msgspec.field(default_factory=lambda: ["alerts"])
    minimum_priority: str = "debug"
    buffer: BufferConfig = msgspec.field(default_factory=BufferConfig)
    batch: BatchConfig = msgspec.field(default_factory=BatchConfig)
    request: RequestConfig = msgspec.field(default_factory=RequestConfig)

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ValueError("inputs must name at least one of 'events', 'alerts'")
        self.minimum_priority = parse_priority(self.minimum_priority)

"""Options every sink shares (Vector's names): inputs, priority, buffer, batch, request."""

from __future__ import annotations

from typing import Literal

import msgspec

from tracehound.config_checks import (
    Problem,
    int_between,
    raise_problems,
    seconds_up_to,
)
from tracehound.event import parse_priority
from tracehound.record import Record
from tracehound.task import TaskInfo


class BufferConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    max_events: int = 10_000
    # Memory bound (Vector's name): bytes of JSON held. Past it records are dropped and
    # counted ("buffer_max_size") whatever when_full says: block waits for room by
    # events, this one never lets a slow sink grow the agent without limit.
    max_size: int = 16 * 1024 * 1024
    when_full: Literal["block", "drop_newest"] = "block"
    # "disk" (sinks/disk_buffer.py): records wait in files under `path` (one directory
    # per sink), at most max_disk_size bytes, and survive a restart of the agent.
    type: Literal["memory", "disk"] = "memory"
    path: str | None = None
    max_disk_size: int = 1024 * 1024 * 1024

    def __post_init__(self) -> None:
        problems: list[Problem | None] = [
            int_between("max_events", self.max_events, 1, 10_000_000),
            int_between("max_size", self.max_size, 1, 4 << 30),
            int_between("max_disk_size", self.max_disk_size, 1 << 20, 1 << 40),
        ]
        if self.type == "disk" and not self.path:
            problems.append(("path", 'is required with type = "disk", got none'))
        if self.type == "memory" and self.path:
            problems.append(("path", f'is only used with type = "disk", got {self.path!r}'))
        raise_problems(problems)


class BatchConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    max_events: int = 1000
    max_bytes: int = 1_000_000
    timeout_secs: float = 1.0

    def __post_init__(self) -> None:
        raise_problems(
            [
                int_between("max_events", self.max_events, 1, 1_000_000),
                int_between("max_bytes", self.max_bytes, 1, 256 << 20),
                seconds_up_to("timeout_secs", self.timeout_secs, 3600),
            ]
        )


class RequestConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    retry_attempts: int = 10
    retry_initial_backoff_secs: float = 1.0
    retry_max_duration_secs: float = 30.0
    timeout_secs: float = 60.0

    def __post_init__(self) -> None:
        raise_problems(
            [
                int_between("retry_attempts", self.retry_attempts, 0, 1000),
                seconds_up_to("retry_initial_backoff_secs", self.retry_initial_backoff_secs, 3600),
                seconds_up_to("retry_max_duration_secs", self.retry_max_duration_secs, 86400),
                seconds_up_to("timeout_secs", self.timeout_secs, 3600),
            ]
        )


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
        problems = self.problems()
        if not self.inputs:
            problems.append(("inputs", "must name at least one of 'events', 'alerts', got []"))
        raise_problems(problems)
        self.minimum_priority = parse_priority(self.minimum_priority)

    def problems(self) -> list[Problem | None]:
        """Each sink type's own checks (config_checks helpers), all reported at once."""
        return []


class BaseSink:
    """Defaults for the optional parts of the Sink protocol; concrete sinks override what they need.

    A sink only does I/O. Buffering, batching, retries and counting live in sinks/runner.py.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        # Sink-specific counters (truncated events, function errors...), merged into the stats.
        self.counters: dict[str, int] = {}
        # The task the agent runs in (ECS metadata), set by build_sink.
        self.task = TaskInfo()

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

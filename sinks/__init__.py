"""Sinks: where records go. One module per sink type, one registry, no if-chains.

Exports the tagged union `SinkConfig` (TOML `type = "..."` picks the member),
`build_sink`, `check_sinks` and the `Sink` protocol.
"""

from __future__ import annotations

from typing import Any, Protocol

from agent.record import Record
from sinks._common import SinkBase
from sinks.file import FileSink, FileSinkConfig
from sinks.stdout import StdoutSink, StdoutSinkConfig


class Sink(Protocol):
    name: str

    async def open(self) -> None: ...
    async def send(self, records: list[Record]) -> None: ...
    async def close(self) -> None: ...


SinkConfig = FileSinkConfig | StdoutSinkConfig

REGISTRY: dict[type[SinkBase], Any] = {
    FileSinkConfig: FileSink,
    StdoutSinkConfig: StdoutSink,
}


def build_sink(name: str, cfg: SinkBase) -> Sink:
    sink: Sink = REGISTRY[type(cfg)](name, cfg)
    return sink


def check_sinks(sinks: dict[str, Any], path: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    """Semantic checks that need more than one field (types are already checked)."""
    return []


__all__ = ["REGISTRY", "Sink", "SinkBase", "SinkConfig", "build_sink", "check_sinks"]

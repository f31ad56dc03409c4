"""Sinks: where records go. One module per sink type, one registry, no if-chains.

Exports the tagged union `SinkConfig` (TOML `type = "..."` picks the member),
`build_sink`, `check_sinks`, `check_sinks_health`, the `Sink` protocol and the
errors a sink raises. Sinks only do I/O; sinks/runner.py makes it reliable.

Importing this package loads no sink's client library: aiohttp, aiobotocore and
botocore are imported by the sinks that use them when they open, so a config with
only file and console sinks starts without them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol

import anyio

from tracehound.record import Record
from tracehound.sinks._common import BaseSink, SinkBase
from tracehound.sinks.aws_lambda import LambdaSink, LambdaSinkConfig
from tracehound.sinks.cloudwatch import CloudWatchLogsSink, CloudWatchLogsSinkConfig
from tracehound.sinks.console import (
    DEPRECATED_STDOUT as _DEPRECATED_STDOUT,
)
from tracehound.sinks.console import (
    ConsoleSink,
    ConsoleSinkConfig,
    StdoutSinkConfig,
)
from tracehound.sinks.errors import FatalError, RetryableError
from tracehound.sinks.file import FileSink, FileSinkConfig
from tracehound.sinks.firehose import FirehoseSink, FirehoseSinkConfig
from tracehound.sinks.s3 import S3Sink, S3SinkConfig
from tracehound.sinks.webhook import WebhookSink, WebhookSinkConfig
from tracehound.sinks.webhook import env_names as _env_names
from tracehound.sinks.webhook import tls_files as _tls_files
from tracehound.task import TaskInfo


class Sink(Protocol):
    name: str

    async def open(self) -> None: ...
    # Returns how many records the destination refused for good (None = none).
    async def send(self, records: list[Record]) -> int | None: ...
    async def close(self) -> None: ...
    async def healthcheck(self) -> None: ...
    def split(self, records: list[Record]) -> list[list[Record]]: ...


SinkConfig = (
    FileSinkConfig
    | ConsoleSinkConfig
    | StdoutSinkConfig
    | WebhookSinkConfig
    | CloudWatchLogsSinkConfig
    | LambdaSinkConfig
    | FirehoseSinkConfig
    | S3SinkConfig
)

REGISTRY: dict[type[SinkBase], Callable[[str, Any], Sink]] = {
    FileSinkConfig: FileSink,
    ConsoleSinkConfig: ConsoleSink,
    StdoutSinkConfig: ConsoleSink,  # the deprecated name of console with target = "stdout"
    WebhookSinkConfig: WebhookSink,
    CloudWatchLogsSinkConfig: CloudWatchLogsSink,
    LambdaSinkConfig: LambdaSink,
    FirehoseSinkConfig: FirehoseSink,
    S3SinkConfig: S3Sink,
}


def build_sink(name: str, cfg: SinkBase, task: TaskInfo | None = None) -> Sink:
    """`task`: the agent's task metadata (a sink may name its stream after the task)."""
    sink = REGISTRY[type(cfg)](name, cfg)
    if task is not None and isinstance(sink, BaseSink):
        sink.task = task
    return sink


def check_sinks(sinks: dict[str, Any], path: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    """Semantic checks beyond types: secrets named by *_env must be in the environment
    (they are never in the file), TLS files must exist."""
    errs: list[tuple[tuple[str, ...], str]] = []
    for name, cfg in sinks.items():
        if not isinstance(cfg, WebhookSinkConfig):
            continue
        for keys, var in _env_names(cfg):
            if var not in os.environ:
                errs.append(((*path, name, *keys), f"environment variable {var} is not set"))
        for keys, file in _tls_files(cfg):
            if not os.path.isfile(file):
                errs.append(((*path, name, *keys), f"no such file: {file}"))
    return errs


def deprecated_sinks(
    sinks: dict[str, Any], path: tuple[str, ...]
) -> list[tuple[tuple[str, ...], str]]:
    """Options that still work but are on their way out: warnings, not errors."""
    return [
        ((*path, name, "type"), _DEPRECATED_STDOUT)
        for name, cfg in sinks.items()
        if isinstance(cfg, StdoutSinkConfig)
    ]


async def check_sinks_health(sinks_cfg: dict[str, Any]) -> list[tuple[str, str | None]]:
    """For `tracehound validate --check-sinks`: open each sink, run its healthcheck, close it.
    Returns (name, error or None) per sink; never raises."""

    async def one(name: str, cfg: SinkBase) -> tuple[str, str | None]:
        sink = build_sink(name, cfg)
        try:
            with anyio.fail_after(cfg.request.timeout_secs):
                await sink.open()
            try:
                with anyio.fail_after(cfg.request.timeout_secs):
                    await sink.healthcheck()
            finally:
                await sink.close()
        except Exception as exc:
            text = str(exc)
            return name, f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        return name, None

    results: dict[str, str | None] = {}

    async def into(name: str, cfg: SinkBase) -> None:
        results[name] = (await one(name, cfg))[1]

    async with anyio.create_task_group() as tg:
        for name, cfg in sinks_cfg.items():
            tg.start_soon(into, name, cfg)
    return [(name, results[name]) for name in sinks_cfg]


__all__ = [
    "REGISTRY",
    "BaseSink",
    "CloudWatchLogsSink",
    "CloudWatchLogsSinkConfig",
    "ConsoleSink",
    "ConsoleSinkConfig",
    "FatalError",
    "FileSink",
    "FileSinkConfig",
    "FirehoseSink",
    "FirehoseSinkConfig",
    "LambdaSink",
    "LambdaSinkConfig",
    "RetryableError",
    "S3Sink",
    "S3SinkConfig",
    "Sink",
    "SinkBase",
    "SinkConfig",
    "StdoutSinkConfig",
    "WebhookSink",
    "WebhookSinkConfig",
    "build_sink",
    "check_sinks",
    "check_sinks_health",
    "deprecated_sinks",
]

"""s3 sink: gzip'd JSON-lines objects, one per time window, as Vector's aws_s3 sink.

Records are grouped by the time window their own time falls in (window_secs); each
group of a batch becomes one object whose key is key_prefix (strftime date parts of
the window's start, UTC, and {task_id}, {hostname}, {sink}) followed by
"<window start>-<uuid>.json.gz". The key is drawn once per object, so a retried
PutObject (the first one may have landed before the connection broke) overwrites
the same object instead of writing the records twice.

How often objects are written is the batch's business (batch.timeout_secs, default
300 s like Vector's; batch.max_bytes of JSON per object).
"""

from __future__ import annotations

import gzip
import socket
import string
import time
import uuid
from typing import Any, Literal

import msgspec

from tracehound.config_checks import Problem, not_empty, within
from tracehound.record import Record, encode_lines
from tracehound.sinks._aws import AwsSink, AwsSinkBase, classify, ecs_task_id
from tracehound.sinks._common import BatchConfig
from tracehound.sinks.errors import SinkError
from tracehound.sinks.ocsf import encode_ocsf_lines

KEY_FIELDS = frozenset({"task_id", "hostname", "sink"})


def _s3_batch() -> BatchConfig:
    return BatchConfig(max_events=10_000, max_bytes=10_000_000, timeout_secs=300.0)


def key_template_problem(key: str, template: str) -> Problem | None:
    """A key_prefix with an unknown {name} or a broken brace is a config error."""
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        return (key, f"is not a valid key template ({exc}), got {template!r}")
    unknown = sorted(names - KEY_FIELDS)
    if unknown:
        allowed = ", ".join("{" + n + "}" for n in sorted(KEY_FIELDS))
        return (key, f"unknown placeholder {{{unknown[0]}}} (use {allowed}), got {template!r}")
    return None


class S3SinkConfig(AwsSinkBase, tag="s3", kw_only=True):
    bucket: str
    # strftime date parts (UTC, the window's start) and {task_id}, {hostname}, {sink}.
    key_prefix: str = "tracehound/{task_id}/%Y/%m/%d/"
    # Records whose times fall in one window of this many seconds share an object.
    window_secs: int = 300
    encoding: Literal["json", "ocsf"] = "json"
    compression: Literal["gzip", "none"] = "gzip"
    storage_class: str | None = None
    batch: BatchConfig = msgspec.field(default_factory=_s3_batch)

    def problems(self) -> list[Problem | None]:
        return [
            *super().problems(),
            not_empty("bucket", self.bucket),
            key_template_problem("key_prefix", self.key_prefix),
            within("window_secs", self.window_secs, 1, 86_400),
        ]


class S3Sink(AwsSink):
    service = "s3"

    def __init__(self, name: str, cfg: S3SinkConfig) -> None:
        super().__init__(name, cfg)
        self.cfg = cfg
        self.task_id = ""
        # Keys of the chunks of the current batch (by id: a retry sends the same list).
        self._keys: dict[int, str] = {}

    async def open(self) -> None:
        if not self.task_id:
            self.task_id = await ecs_task_id(self.task) or socket.gethostname()
        await super().open()

    def object_key(self, window_start: int) -> str:
        prefix = time.strftime(self.cfg.key_prefix, time.gmtime(window_start))
        prefix = prefix.format(task_id=self.task_id, hostname=socket.gethostname(), sink=self.name)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(window_start))
        ext = ".json.gz" if self.cfg.compression == "gzip" else ".json"
        return f"{prefix}{stamp}-{uuid.uuid4().hex}{ext}"

    def split(self, records: list[Record]) -> list[list[Record]]:
        """One chunk (one object) per time window, windows in time order."""
        win = self.cfg.window_secs
        groups: dict[int, list[Record]] = {}
        for rec in records:
            start = rec.ts_ns // 1_000_000_000 // win * win
            groups.setdefault(start, []).append(rec)
        self._keys = {}
        chunks = []
        for start in sorted(groups):
            chunk = groups[start]
            self._keys[id(chunk)] = self.object_key(start)
            chunks.append(chunk)
        return chunks

    def body(self, records: list[Record]) -> bytes:
        data = encode_ocsf_lines(records) if self.cfg.encoding == "ocsf" else encode_lines(records)
        return gzip.compress(data, compresslevel=6) if self.cfg.compression == "gzip" else data

    async def send(self, records: list[Record]) -> int:
        key = self._keys.get(id(records))
        if key is None:  # not from split() (a direct call): a window of its own
            key = self.object_key(records[0].ts_ns // 1_000_000_000)
            self._keys[id(records)] = key
        extra: dict[str, Any] = {}
        if self.cfg.storage_class:
            extra["StorageClass"] = self.cfg.storage_class
        try:
            await self.client.put_object(
                Bucket=self.cfg.bucket,
                Key=key,
                Body=self.body(records),
                ContentType="application/x-ndjson",
                **extra,
            )
        except SinkError:
            raise
        except Exception as exc:
            raise classify(exc, f"PutObject {key}") from exc
        self.count("objects")
        return 0

    async def healthcheck(self) -> None:
        await self.client.head_bucket(Bucket=self.cfg.bucket)

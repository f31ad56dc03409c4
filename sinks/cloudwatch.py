"""cloudwatch_logs sink: PutLogEvents through aiobotocore.

PutLogEvents limits (AWS docs): at most 10,000 events and 1,048,576 bytes per call,
counting each message's UTF-8 bytes plus 26; events in chronological order; one
call may not span more than 24 hours. Sequence tokens are no longer needed.
"""

from __future__ import annotations

from typing import Any

from tracehound.config_checks import Problem, not_empty, within
from tracehound.record import Record, encode
from tracehound.sinks._aws import (
    AwsSink,
    AwsSinkBase,
    classify,
    default_stream_name,
    ecs_task_id,
    error_code,
)
from tracehound.sinks.errors import SinkError

MAX_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_SPAN_MS = 24 * 3600 * 1000
TRUNCATED_MARKER = b"...[truncated by tracehound]"


class CloudWatchLogsSinkConfig(AwsSinkBase, tag="cloudwatch_logs", kw_only=True):
    group_name: str
    # Default: the ECS task id, else the hostname.
    stream_name: str | None = None
    # Longest message kept; longer ones are cut and end with TRUNCATED_MARKER.
    max_event_bytes: int = MAX_BATCH_BYTES - EVENT_OVERHEAD

    def problems(self) -> list[Problem | None]:
        top = MAX_BATCH_BYTES - EVENT_OVERHEAD
        return [
            *super().problems(),
            not_empty("group_name", self.group_name),
            within("max_event_bytes", self.max_event_bytes, 256, top),
        ]


def count_rejected(info: dict[str, int] | None, n: int) -> int:
    """How many events rejectedLogEventsInfo refers to (the index ranges may overlap)."""
    if not info:
        return 0
    old_end = max(info.get("tooOldLogEventEndIndex", -1), info.get("expiredLogEventEndIndex", -1))
    new_start = info.get("tooNewLogEventStartIndex", n)
    rejected = set(range(0, old_end + 1)) | set(range(new_start, n))
    return len(rejected)


class CloudWatchLogsSink(AwsSink):
    service = "logs"

    def __init__(self, name: str, cfg: CloudWatchLogsSinkConfig) -> None:
        super().__init__(name, cfg)
        self.cfg = cfg
        self.group = cfg.group_name
        self.stream = cfg.stream_name or ""

    async def open(self) -> None:
        if not self.stream:
            self.stream = await ecs_task_id(self.task) or default_stream_name()
        await super().open()

    def _message(self, rec: Record) -> str:
        data = encode(rec)
        limit = self.cfg.max_event_bytes
        if len(data) > limit:
            self.count("truncated")
            data = data[: limit - len(TRUNCATED_MARKER)] + TRUNCATED_MARKER
            # Never cut a UTF-8 sequence in half: CloudWatch would reject the event.
            return data.decode("utf-8", errors="ignore")
        return data.decode()

    def split(self, records: list[Record]) -> list[list[Any]]:
        """Chunks of InputLogEvents ({"timestamp", "message"}), each one valid PutLogEvents call."""
        # Sorted by time (stable, so equal times keep their order), with their sizes.
        stamped = sorted(
            ((r.ts_ns // 1_000_000, self._message(r)) for r in records), key=lambda e: e[0]
        )
        # What send() gets: log events, not records.
        chunks: list[list[Any]] = []
        cur: list[dict[str, Any]] = []
        cur_bytes = 0
        for ts, msg in stamped:
            ev = {"timestamp": ts, "message": msg}
            size = len(msg.encode()) + EVENT_OVERHEAD
            if cur and (
                len(cur) >= MAX_EVENTS
                or cur_bytes + size > MAX_BATCH_BYTES
                or ev["timestamp"] - cur[0]["timestamp"] >= MAX_SPAN_MS
            ):
                chunks.append(cur)
                cur, cur_bytes = [], 0
            cur.append(ev)
            cur_bytes += size
        if cur:
            chunks.append(cur)
        return chunks

    async def send(self, records: list[Any]) -> int | None:
        from botocore.exceptions import ClientError

        try:
            try:
                resp = await self._put(records)
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
                await self._create()
                resp = await self._put(records)
        except SinkError:
            raise
        except Exception as exc:
            raise classify(exc, "PutLogEvents") from exc
        rejected = count_rejected(resp.get("rejectedLogEventsInfo"), len(records))
        if rejected:
            self.count("rejected_events", rejected)
        return rejected

    async def _put(self, events: list[Any]) -> dict[str, Any]:
        resp: dict[str, Any] = await self.client.put_log_events(
            logGroupName=self.group, logStreamName=self.stream, logEvents=events
        )
        return resp

    async def _create(self) -> None:
        from botocore.exceptions import ClientError

        """Only after ResourceNotFoundException: a role without Create* permissions still
        works with a group and stream made beforehand."""
        try:
            await self._create_stream()
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            try:
                await self.client.create_log_group(logGroupName=self.group)
            except ClientError as exc2:
                if error_code(exc2) != "ResourceAlreadyExistsException":
                    raise
            await self._create_stream()

    async def _create_stream(self) -> None:
        from botocore.exceptions import ClientError

        try:
            await self.client.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
        except ClientError as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise

    async def healthcheck(self) -> None:
        from botocore.exceptions import ClientError

        try:
            await self.client.describe_log_streams(
                logGroupName=self.group, logStreamNamePrefix=self.stream, limit=1
            )
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":  # created on the first put
                raise

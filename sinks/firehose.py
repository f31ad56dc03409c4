"""firehose sink: Amazon Data Firehose PutRecordBatch through aiobotocore.

PutRecordBatch limits (AWS docs): at most 500 records and 4 MiB per call, each record
at most 1,000 KiB before base64. Each record is one JSON object and a newline (what
Firehose's S3 destination and its JSON-to-Parquet conversion for Security Lake expect).

A call can succeed while some of its records failed (FailedPutCount, an ErrorCode per
record): only those are sent again, never the whole batch. The failed records are
counted per error code in the sink's counters ("failed_<ErrorCode>").
"""

from __future__ import annotations

from typing import Any, Literal

from tracehound.config_checks import Problem, not_empty
from tracehound.record import Record, encode
from tracehound.sinks._aws import AwsSink, AwsSinkBase, classify
from tracehound.sinks.errors import RetryableError, SinkError
from tracehound.sinks.ocsf import encode_ocsf

MAX_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES = 1000 * 1024


class FirehoseSinkConfig(AwsSinkBase, tag="firehose", kw_only=True):
    stream_name: str
    # json: the record as it is; ocsf: OCSF 1.7 (for a Security Lake custom source).
    encoding: Literal["json", "ocsf"] = "json"

    def problems(self) -> list[Problem | None]:
        return [*super().problems(), not_empty("stream_name", self.stream_name)]


class FirehoseSink(AwsSink):
    service = "firehose"

    def __init__(self, name: str, cfg: FirehoseSinkConfig) -> None:
        super().__init__(name, cfg)
        self.cfg = cfg
        self._encode = encode_ocsf if cfg.encoding == "ocsf" else encode
        # The chunk being sent and which of its records are already in: a retry of the
        # same chunk sends only the others.
        self._chunk: list[Record] | None = None
        self._done: set[int] = set()

    def split(self, records: list[Record]) -> list[list[Any]]:
        """Chunks of {"Data": bytes}, each one valid call. A record over 1,000 KiB is left
        out (the runner counts it as dropped, reason "too_large")."""
        # What send() gets: Firehose records, not ours.
        chunks: list[list[Any]] = []
        cur: list[dict[str, bytes]] = []
        size = 0
        for rec in records:
            data = self._encode(rec) + b"\n"
            if len(data) > MAX_RECORD_BYTES:
                self.count("too_large_records")
                continue
            if cur and (len(cur) >= MAX_RECORDS or size + len(data) > MAX_BATCH_BYTES):
                chunks.append(cur)
                cur, size = [], 0
            cur.append({"Data": data})
            size += len(data)
        if cur:
            chunks.append(cur)
        return chunks

    def delivered(self, chunk: list[Any]) -> int:
        """How many records of `chunk` are already in (the runner asks when it gives up
        on the chunk, so those are counted as sent, not dropped)."""
        return len(self._done) if chunk is self._chunk else 0

    async def send(self, records: list[Any]) -> int:
        if records is not self._chunk:
            self._chunk, self._done = records, set()
        todo = [i for i in range(len(records)) if i not in self._done]
        try:
            resp: dict[str, Any] = await self.client.put_record_batch(
                DeliveryStreamName=self.cfg.stream_name, Records=[records[i] for i in todo]
            )
        except SinkError:
            raise
        except Exception as exc:
            raise classify(exc, "PutRecordBatch") from exc
        failed: dict[str, int] = {}
        for i, answer in zip(todo, resp.get("RequestResponses", []), strict=False):
            code = answer.get("ErrorCode")
            if code:
                failed[code] = failed.get(code, 0) + 1
            else:
                self._done.add(i)
        if len(resp.get("RequestResponses", [])) < len(todo):  # a short answer: resend the rest
            failed["MissingResponse"] = len(todo) - len(resp.get("RequestResponses", []))
        if failed:
            for code, n in failed.items():
                self.count(f"failed_{code}", n)
            self.count("partial_failures")
            left = len(records) - len(self._done)
            detail = ", ".join(f"{c}={n}" for c, n in sorted(failed.items()))
            raise RetryableError(
                f"PutRecordBatch: {left} of {len(records)} records failed: {detail}"
            )
        self._chunk, self._done = None, set()
        return 0

    async def healthcheck(self) -> None:
        resp = await self.client.describe_delivery_stream(DeliveryStreamName=self.cfg.stream_name)
        status = resp["DeliveryStreamDescription"]["DeliveryStreamStatus"]
        if status != "ACTIVE":
            raise RuntimeError(f"delivery stream {self.cfg.stream_name} is {status}")

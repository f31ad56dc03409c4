"""lambda sink: invoke a function with a JSON array of records per batch.

Payload limits: 1 MB for InvocationType = Event (asynchronous), 6 MB for
RequestResponse. A batch is split to fit; a single record that cannot fit is left
out and counted by the runner (reason "too_large").
"""

from __future__ import annotations

from typing import Literal

from tracehound.config_checks import Problem, not_empty
from tracehound.record import Record, encode, encode_array
from tracehound.sinks._aws import AwsSink, AwsSinkBase, classify
from tracehound.sinks.errors import RetryableError, SinkError

PAYLOAD_LIMITS = {"Event": 1_048_576, "RequestResponse": 6_291_456}


class LambdaSinkConfig(AwsSinkBase, tag="lambda", kw_only=True):
    function_name: str
    invocation_type: Literal["Event", "RequestResponse"] = "Event"
    qualifier: str | None = None  # version or alias

    def problems(self) -> list[Problem | None]:
        return [*super().problems(), not_empty("function_name", self.function_name)]


class LambdaSink(AwsSink):
    service = "lambda"

    def __init__(self, name: str, cfg: LambdaSinkConfig) -> None:
        super().__init__(name, cfg)
        self.cfg = cfg
        self.limit = PAYLOAD_LIMITS[cfg.invocation_type]

    def split(self, records: list[Record]) -> list[list[Record]]:
        chunks: list[list[Record]] = []
        cur: list[Record] = []
        size = 2  # "[" and "]"
        for rec in records:
            n = len(encode(rec)) + 1  # and its comma
            if n + 2 > self.limit:
                continue  # cannot fit alone: counted as too_large by the runner
            if cur and size + n > self.limit:
                chunks.append(cur)
                cur, size = [], 2
            cur.append(rec)
            size += n
        if cur:
            chunks.append(cur)
        return chunks

    def _kwargs(self) -> dict[str, str]:
        kw = {"FunctionName": self.cfg.function_name}
        if self.cfg.qualifier:
            kw["Qualifier"] = self.cfg.qualifier
        return kw

    async def send(self, records: list[Record]) -> None:
        payload = encode_array(records)
        try:
            resp = await self.client.invoke(
                InvocationType=self.cfg.invocation_type, Payload=payload, **self._kwargs()
            )
            async with resp["Payload"] as stream:
                body = await stream.read()
        except SinkError:
            raise
        except Exception as exc:
            raise classify(exc, "Invoke") from exc
        if resp.get("FunctionError"):
            # The function ran and failed (RequestResponse only): retry per policy.
            self.count("function_errors")
            detail = body[:200].decode(errors="replace")
            raise RetryableError(f"FunctionError {resp['FunctionError']}: {detail}")

    async def healthcheck(self) -> None:
        # DryRun checks that the function exists and that we may invoke it, without running it.
        await self.client.invoke(InvocationType="DryRun", Payload=b"[]", **self._kwargs())

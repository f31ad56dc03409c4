"""One baseline per service: `filters.baseline.file = "s3://bucket/key"`.

Every task of a service loads the shared baseline (and its ETag) at start, and
merges what it learned into it every save_interval_secs and at exit with a
conditional write: PutObject with If-Match on the ETag this task last saw
(If-None-Match: * when there was no object). When another task wrote in between,
S3 answers 412 (or 409 for a concurrent conditional write): the newer object is
read, merged in, and written again on its ETag, so no task's items are ever
overwritten. The union becomes this task's baseline too: the service learns as
one, and a task started later begins with everything its peers learned.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import urlsplit

from tracehound.filters.baseline import Baseline, BaselineStore

log = logging.getLogger("tracehound")

# Conflicts in a row before a save gives up until the next interval.
MAX_CONFLICTS = 8


def is_s3_url(value: str) -> bool:
    return value.startswith("s3://")


def s3_url_problem(value: str) -> str | None:
    parts = urlsplit(value)
    if not parts.netloc or not parts.path.strip("/"):
        return f"must be s3://BUCKET/KEY, got {value!r}"
    return None


class S3Baseline:
    def __init__(self, url: str, region: str | None, endpoint_url: str | None) -> None:
        parts = urlsplit(url)
        self.url = url
        self.bucket = parts.netloc
        self.key = parts.path.lstrip("/")
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self.endpoint_url = endpoint_url
        self.etag: str | None = None  # of the object as this task last read or wrote it
        self.conflicts = 0  # conditional writes refused because another task wrote first
        self.saves = 0

    def _client(self) -> AbstractAsyncContextManager[Any]:
        from aiobotocore.session import get_session
        from botocore.config import Config

        cfg = Config(retries={"total_max_attempts": 3, "mode": "standard"}, connect_timeout=5)
        return get_session().create_client(
            "s3", region_name=self.region, endpoint_url=self.endpoint_url, config=cfg
        )

    async def _get(self, s3: Any) -> tuple[BaselineStore | None, str | None]:
        """The stored baseline and its ETag; (None, None) when there is no object yet."""
        from botocore.exceptions import ClientError

        try:
            resp = await s3.get_object(Bucket=self.bucket, Key=self.key)
            body = await resp["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None, None
            raise
        return BaselineStore.from_json(json.loads(body)), str(resp["ETag"])

    async def load(self, baseline: Baseline) -> str | None:
        """Load into the stage; a warning message, or None."""
        try:
            async with self._client() as s3:
                store, self.etag = await self._get(s3)
        except Exception as exc:  # the agent starts anyway, learning on its own
            return f"baseline {self.url} not loaded: {type(exc).__name__}: {exc}"
        if store is None:
            if baseline.mode == "detect":
                return f"baseline {self.url} not found: every behaviour will look new"
            return None
        baseline.store.merge(store)
        return None

    async def save(self, baseline: Baseline) -> bool:
        """Merge what this task knows into the shared object; True when written (or
        nothing to write). Raises on errors other than conflicts (the caller retries
        at the next interval).

        Optimistic: the write is conditional on the ETag this task last saw. If nobody
        wrote since, the object holds nothing this task lacks and one request is enough;
        otherwise S3 refuses it, and the newer object is read, merged and written again."""
        from botocore.exceptions import ClientError

        if not baseline.dirty:
            return True
        baseline.dirty = False
        try:
            async with self._client() as s3:
                for _ in range(MAX_CONFLICTS):
                    cond = {"IfMatch": self.etag} if self.etag else {"IfNoneMatch": "*"}
                    try:
                        resp = await s3.put_object(
                            Bucket=self.bucket,
                            Key=self.key,
                            Body=baseline.store.dumps(),
                            ContentType="application/json",
                            **cond,
                        )
                    except ClientError as exc:
                        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                        if status not in (409, 412):
                            raise
                        # Another task wrote first: take its items (they are ours now too:
                        # the service learns as one) and write the union.
                        self.conflicts += 1
                        remote, self.etag = await self._get(s3)
                        if remote is not None:
                            baseline.store.merge(remote)
                        continue
                    self.etag = str(resp["ETag"])
                    self.saves += 1
                    return True
        except BaseException:
            baseline.dirty = True
            raise
        baseline.dirty = True
        log.warning(
            "baseline %s: %d conflicting writes in a row, retrying later", self.url, MAX_CONFLICTS
        )
        return False

"""What the AWS sinks share: config keys, one aiobotocore client per sink, error mapping.

Credentials come from botocore's default chain, so the ECS task role works with no
configuration. botocore's own retries are switched off: the runner owns retrying,
so attempts, backoff and counters are the same for every sink.
"""

from __future__ import annotations

import os
import socket
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from tracehound.sinks._common import BaseSink, SinkBase
from tracehound.sinks.errors import FatalError, RetryableError, SinkError
from tracehound.task import TaskInfo

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

# aiobotocore, botocore and aiohttp are imported by the functions that use them, so
# a config without AWS sinks never loads them (about 0.3 s of start-up).

_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
        "ResourceConflictException",  # Lambda: function still being updated
        "EC2ThrottledException",
        "ENILimitReachedException",
    }
)


# How long a sink opening waits for the enrichment stage's metadata fetch.
ECS_WAIT_SECS = 5.0


class AwsSinkBase(SinkBase, kw_only=True):
    # Default: AWS_REGION / AWS_DEFAULT_REGION (ECS sets AWS_REGION in every task).
    region: str | None = None
    # VPC interface endpoints, or a local emulator in tests.
    endpoint_url: str | None = None


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def classify(exc: BaseException, what: str) -> SinkError:
    """Map a botocore/aiohttp failure onto the runner's two kinds of error."""
    import aiohttp
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        msg = f"{what}: {code or status}: {exc.response.get('Error', {}).get('Message', '')}"
        if code in _RETRYABLE_CODES or status == 429 or status >= 500:
            return RetryableError(msg)
        return FatalError(msg)
    # Connection refused/reset, timeouts, credentials not yet available: all transient.
    if isinstance(exc, BotoCoreError | aiohttp.ClientError | OSError | TimeoutError):
        return RetryableError(f"{what}: {type(exc).__name__}: {exc}")
    return RetryableError(f"{what}: unexpected {type(exc).__name__}: {exc}")


class AwsSink(BaseSink):
    service = ""

    def __init__(self, name: str, cfg: AwsSinkBase) -> None:
        super().__init__(name)
        self.aws_cfg = cfg
        self._stack: AsyncExitStack | None = None
        self.client: Any = None

    async def open(self) -> None:
        from aiobotocore.session import get_session
        from botocore.config import Config as BotoConfig

        cfg = self.aws_cfg
        region = cfg.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        boto_cfg = BotoConfig(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=min(10.0, cfg.request.timeout_secs),
            read_timeout=cfg.request.timeout_secs,
            user_agent_extra="tracehound",
        )
        stack = AsyncExitStack()
        self.client = await stack.enter_async_context(
            get_session().create_client(
                self.service, region_name=region, endpoint_url=cfg.endpoint_url, config=boto_cfg
            )
        )
        self._stack = stack

    async def close(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()
            self.client = None


async def ecs_task_id(task: TaskInfo) -> str | None:
    """The task id (last part of the task ARN), from enrichment or, when enrichment does
    not fetch the ECS metadata, from the endpoint: the endpoint is asked once."""
    await task.wait_fetched(ECS_WAIT_SECS)
    arn = task.fields.get("aws.ecs.task_arn")
    uri = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if not arn and uri and not task.fetch_expected:
        import aiohttp

        try:
            timeout = aiohttp.ClientTimeout(total=2)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(f"{uri}/task") as resp,
            ):
                arn = (await resp.json(content_type=None)).get("TaskARN")
        except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError):
            arn = None
    if isinstance(arn, str) and arn:
        return arn.rsplit("/", 1)[-1]
    return None


def default_stream_name() -> str:
    return socket.gethostname()

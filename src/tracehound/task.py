"""What is known about the task and container the agent runs in (ECS task metadata).

One object per agent, passed down instead of a module global: the enrichment stage
fills it once from the metadata endpoint (and refreshes it rarely), the rules read
container.* and aws.ecs.* from it, every record carries its fields, and the AWS sinks
name their log streams after the task id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio

__all__ = ["TaskInfo"]


@dataclass(slots=True)
class TaskInfo:
    # container.*, aws.ecs.*: merged into every record's output_fields.
    fields: dict[str, Any] = field(default_factory=dict)
    # (source, destination) of the container's volumes: container.mount(s).
    mounts: list[tuple[str, str]] = field(default_factory=list)
    fetched: bool = False  # the metadata endpoint answered at least once
    # The enrichment stage will fetch (set when the chain is built, before any sink
    # opens), so nobody else asks the endpoint: they wait for its answer instead.
    fetch_expected: bool = False
    attempted: bool = False  # the enrichment stage's first fetch is over (answer or not)
    _settled: anyio.Event | None = field(default=None, repr=False)

    def update(self, fields: dict[str, Any], mounts: list[tuple[str, str]]) -> None:
        self.fields.update(fields)
        self.mounts[:] = mounts
        self.fetched = True

    def settle(self) -> None:
        """The first fetch is over: whoever waits in wait_fetched() goes on."""
        self.attempted = True
        if self._settled is not None:
            self._settled.set()

    async def wait_fetched(self, timeout: float) -> None:
        """Wait (at most `timeout` s) for the enrichment stage's first fetch, if one comes."""
        if not self.fetch_expected or self.attempted:
            return
        if self._settled is None:
            self._settled = anyio.Event()
        with anyio.move_on_after(timeout):
            await self._settled.wait()

    @property
    def task_id(self) -> str | None:
        """The last part of the task ARN (what ECS calls the task id)."""
        arn = self.fields.get("aws.ecs.task_arn")
        if isinstance(arn, str) and arn:
            return arn.rsplit("/", 1)[-1]
        return None

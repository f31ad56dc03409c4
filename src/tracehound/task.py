"""What is known about the task and container the agent runs in (ECS task metadata).

One object per agent, passed down instead of a module global: the enrichment stage
fills it once from the metadata endpoint (and refreshes it rarely), the rules read
container.* and aws.ecs.* from it, every record carries its fields, and the AWS sinks
name their log streams after the task id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["TaskInfo"]


@dataclass(slots=True)
class TaskInfo:
    # container.*, aws.ecs.*: merged into every record's output_fields.
    fields: dict[str, Any] = field(default_factory=dict)
    # (source, destination) of the container's volumes: container.mount(s).
    mounts: list[tuple[str, str]] = field(default_factory=list)
    fetched: bool = False  # the metadata endpoint answered at least once

    def update(self, fields: dict[str, Any], mounts: list[tuple[str, str]]) -> None:
        self.fields.update(fields)
        self.mounts[:] = mounts
        self.fetched = True

    @property
    def task_id(self) -> str | None:
        """The last part of the task ARN (what ECS calls the task id)."""
        arn = self.fields.get("aws.ecs.task_arn")
        if isinstance(arn, str) and arn:
            return arn.rsplit("/", 1)[-1]
        return None

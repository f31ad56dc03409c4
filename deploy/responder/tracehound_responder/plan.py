"""Decide what to do with one Lambda-sink payload: pure data in, a plan out.

The payload is what tracehound's lambda sink sends per invocation: one JSON array
of Falco-format records. Alerts carry "rule" and "priority"; events carry neither
and are ignored. No AWS calls here, so the decision is testable without a cloud.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Falco's priorities, most severe first (the same list as agent/event.py; copied
# because the responder is deployed alone, without the agent's packages).
PRIORITIES = (
    *("Emergency", "Alert", "Critical", "Error"),
    *("Warning", "Notice", "Informational", "Debug"),
)
_ALIASES = {"info": "Informational"}

# ECS StopTask accepts a reason of at most 255 characters.
REASON_MAX = 255


def rank(priority: str) -> int:
    """Lower is more severe; unknown names rank below Debug so they never act."""
    low = priority.strip().lower()
    low = _ALIASES.get(low, low).lower()
    for i, name in enumerate(PRIORITIES):
        if name.lower() == low:
            return i
    return len(PRIORITIES)


def parse_priority(priority: str) -> str:
    r = rank(priority)
    if r == len(PRIORITIES):
        raise ValueError(f"unknown priority {priority!r}; expected one of {', '.join(PRIORITIES)}")
    return PRIORITIES[r]


@dataclass
class TaskAction:
    """Every qualifying alert of one task, so the task is stopped once."""

    task_arn: str
    cluster: str
    alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def worst(self) -> dict[str, Any]:
        return min(self.alerts, key=lambda a: rank(str(a.get("priority", ""))))

    def reason(self) -> str:
        a = self.worst
        of = a.get("output_fields") or {}
        text = (
            f"tracehound: {a.get('priority')} alert {a.get('rule')!r}"
            f" (proc {of.get('proc.name')} pid {of.get('proc.pid')})"
        )
        if len(self.alerts) > 1:
            text += f" and {len(self.alerts) - 1} more"
        return text[:REASON_MAX]


@dataclass
class Plan:
    tasks: list[TaskAction] = field(default_factory=list)
    # Qualifying alerts that name no task (not on ECS, or metadata unavailable).
    taskless: list[dict[str, Any]] = field(default_factory=list)
    ignored: int = 0  # events and alerts below the threshold

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return [a for t in self.tasks for a in t.alerts] + self.taskless


def cluster_of(record: dict[str, Any], task_arn: str) -> str:
    """aws.ecs.cluster (name or ARN), else the cluster part of the task ARN.

    New-format task ARNs are arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/ID; the old
    format (task/ID) names no cluster, which means the "default" cluster.
    """
    of = record.get("output_fields") or {}
    cluster = of.get("aws.ecs.cluster")
    if isinstance(cluster, str) and cluster:
        return cluster
    resource = task_arn.split(":", 5)[-1]  # task/CLUSTER/ID or task/ID
    parts = resource.split("/")
    return parts[1] if len(parts) == 3 else "default"


def cluster_name(cluster: str) -> str:
    """arn:aws:ecs:...:cluster/NAME -> NAME; a plain name stays as it is."""
    return cluster.rsplit("/", 1)[-1] if cluster.startswith("arn:") else cluster


def as_records(event: Any) -> list[dict[str, Any]]:
    """The sink sends a JSON array; accept a single record too (manual test invokes)."""
    if isinstance(event, dict):
        event = [event]
    if not isinstance(event, list):
        raise TypeError(f"expected a JSON array of records, got {type(event).__name__}")
    return [r for r in event if isinstance(r, dict)]


def make_plan(event: Any, minimum_priority: str) -> Plan:
    threshold = rank(parse_priority(minimum_priority))
    plan = Plan()
    by_task: dict[str, TaskAction] = {}
    for rec in as_records(event):
        prio = rec.get("priority")
        if "rule" not in rec or not isinstance(prio, str) or rank(prio) > threshold:
            plan.ignored += 1
            continue
        task_arn = (rec.get("output_fields") or {}).get("aws.ecs.task_arn")
        if not isinstance(task_arn, str) or not task_arn:
            plan.taskless.append(rec)
            continue
        action = by_task.get(task_arn)
        if action is None:
            action = by_task[task_arn] = TaskAction(task_arn, cluster_of(rec, task_arn))
            plan.tasks.append(action)
        action.alerts.append(rec)
    return plan

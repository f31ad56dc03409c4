"""container.*, aws.ecs.* (and k8s.*, always unknown): static per task, from the ECS
task metadata the enrichment stage fetched into the context's TaskInfo."""

from __future__ import annotations

import fnmatch
from typing import Any

from tracehound.event import Event
from tracehound.filters.falco.fields.context import FieldContext
from tracehound.filters.falco.fields.registry import CALL, define, helper


@helper
def _h_static(ctx: FieldContext, name: str) -> Any:
    return ctx.task.fields.get(name)


@helper
def _h_mount_dest(ctx: FieldContext, e: Event, source: str) -> str:
    """container.mount.dest[SOURCE]: the destination of the mount whose source matches."""
    for src, dest in ctx.task.mounts:
        if fnmatch.fnmatchcase(src, source):
            return dest
    return "<NA>"  # Falco's value when the container has no such mount


@helper
def _h_mounts(ctx: FieldContext, e: Event) -> str | None:
    if not ctx.task.mounts:
        return None
    # Falco adds mode, rw and propagation; ECS metadata gives only source and destination.
    return ",".join(f"{s}:{d}" for s, d in ctx.task.mounts)


@helper
def _h_privileged(ctx: FieldContext, e: Event) -> bool:
    return ctx.privileged


def container_privileged(status_text: str, cap_last_cap: int) -> bool:
    """A privileged container keeps every capability in its bounding set."""
    for line in status_text.splitlines():
        if line.startswith("CapBnd:"):
            mask = int(line.split()[1], 16)
            return mask & ((1 << (cap_last_cap + 1)) - 1) == (1 << (cap_last_cap + 1)) - 1
    return False


def detect_privileged() -> bool:
    try:
        with open("/proc/self/status") as f:
            status = f.read()
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        return False
    return container_privileged(status, last)


for _n in (
    "container.name",
    "container.image",
    "container.image.repository",
    "container.image.tag",
    "container.start_ts",
    "aws.ecs.task_arn",
    "aws.ecs.cluster",
    "aws.ecs.task_family",
    "aws.ecs.task_revision",
    "aws.ecs.availability_zone",
    "aws.ecs.launch_type",
):
    define(_n, "int" if _n == "container.start_ts" else "str", f"_h_static(_ctx, {_n!r})",
           cost=CALL)  # fmt: skip
define("container.info", "str", "_h_static(_ctx, 'container.name')", cost=CALL)
# Falco's container.id is "host" for a process outside any container; without ECS
# metadata we cannot tell, and say "host" as Falco does when no container is found.
define("container.id", "str", "(_h_static(_ctx, 'container.id') or 'host')", cost=CALL)
define("container.privileged", "bool", "_h_privileged(_ctx, e)", cost=CALL)
define("container.mounts", "str", "_h_mounts(_ctx, e)", cost=CALL)
define("container.mount.dest", "str", "_h_mount_dest(_ctx, e, {key})", cost=CALL, indexed=True,
       key_type="str")  # fmt: skip
for _n in ("k8s.ns.name", "k8s.pod.name"):
    define(_n, "str", "None")  # ECS is not Kubernetes; see docs/rules.md

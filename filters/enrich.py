"""Enrichment: user and group names, ancestors, and ECS task/container metadata.

Per event this is only a dict lookup (user.name); ancestors are added to exec
events and to alerts; ECS metadata is static per task, so it is fetched once at
start (and refreshed rarely) into the agent's TaskInfo (tracehound.task) instead of
being copied into every event.
"""

from __future__ import annotations

import calendar
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from tracehound.event import Event
from tracehound.families import EXEC
from tracehound.filters.config import EnrichConfig
from tracehound.periodic import Periodic
from tracehound.task import TaskInfo

if TYPE_CHECKING:
    import aiohttp
    from anyio.abc import TaskGroup

log = logging.getLogger("tracehound.filters.enrich")

ECS_ENV = "ECS_CONTAINER_METADATA_URI_V4"


def read_id_names(path: str) -> dict[int, str]:
    """name:x:id:... files (/etc/passwd, /etc/group) -> {id: name}; missing file -> {}."""
    names: dict[int, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split(":")
                if len(parts) >= 3 and parts[2].isdigit():
                    names.setdefault(int(parts[2]), parts[0])
    except OSError:
        pass
    return names


def ecs_fields(task: dict[str, Any] | None, container: dict[str, Any] | None) -> dict[str, Any]:
    """Map the v4 task and container documents to our field names."""
    out: dict[str, Any] = {}
    if container:
        for key, name in (
            ("DockerId", "container.id"),
            ("Name", "container.name"),
            ("Image", "container.image"),
        ):
            if container.get(key):
                out[name] = container[key]
        image = container.get("Image")
        if isinstance(image, str) and image:
            repo, sep, tag = image.rpartition(":")
            if sep and "/" not in tag:
                out["container.image.repository"], out["container.image.tag"] = repo, tag
            else:
                out["container.image.repository"] = image
        started = _rfc3339_ns(container.get("StartedAt"))
        if started is not None:
            out["container.start_ts"] = started
        labels = container.get("Labels") or {}
        for label, name in (
            ("com.amazonaws.ecs.task-arn", "aws.ecs.task_arn"),
            ("com.amazonaws.ecs.cluster", "aws.ecs.cluster"),
            ("com.amazonaws.ecs.task-definition-family", "aws.ecs.task_family"),
            ("com.amazonaws.ecs.task-definition-version", "aws.ecs.task_revision"),
        ):
            if labels.get(label):
                out[name] = labels[label]
    if task:
        for key, name in (
            ("TaskARN", "aws.ecs.task_arn"),
            ("Cluster", "aws.ecs.cluster"),
            ("Family", "aws.ecs.task_family"),
            ("Revision", "aws.ecs.task_revision"),
            ("AvailabilityZone", "aws.ecs.availability_zone"),
            ("LaunchType", "aws.ecs.launch_type"),
        ):
            if task.get(key):
                out[name] = task[key]
    return out


def _rfc3339_ns(text: Any) -> int | None:
    """'2026-11-22T10:20:05.123456789Z' -> ns since the epoch (ECS writes nanoseconds)."""
    if not isinstance(text, str) or not text.endswith("Z") or "T" not in text:
        return None
    main, _, frac = text[:-1].partition(".")
    try:
        secs = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None
    digits = (frac + "000000000")[:9] if frac.isdigit() else "0"
    return secs * 1_000_000_000 + int(digits)


def ecs_mounts(container: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(source, destination) of the container's volumes, from the v4 metadata."""
    out = []
    for v in (container or {}).get("Volumes") or []:
        if isinstance(v, dict) and v.get("Destination"):
            out.append((str(v.get("Source") or ""), str(v["Destination"])))
    return out


class Enricher:
    def __init__(self, cfg: EnrichConfig, task: TaskInfo | None = None) -> None:
        self.task = task if task is not None else TaskInfo()
        self.enabled = cfg.enabled
        self.levels = cfg.ancestor_levels
        self.cfg = cfg
        self.users = read_id_names(cfg.passwd_file) if cfg.enabled else {}
        self.groups = read_id_names(cfg.group_file) if cfg.enabled else {}
        self.ecs: dict[str, Any] = {}
        self.ecs_errors = 0
        self._refresh: Periodic | None = None
        self._base = os.environ.get(ECS_ENV) if cfg.enabled and cfg.ecs_metadata else None
        if self._base:
            self.task.fetch_expected = True  # the sinks wait for this fetch, not their own

    def process(self, e: Event) -> None:
        f = e.fields
        name = self.users.get(e.proc.uid)
        if name is not None:
            f["user.name"] = name
        group = self.groups.get(e.proc.gid)
        if group is not None:
            f["group.name"] = group
        if e.type in EXEC:
            self.ancestors(e)

    def ancestors(self, e: Event) -> None:
        """proc.aname[N] / proc.acmdline[N] for N = 2..levels (1 is proc.pname)."""
        f = e.fields
        if "proc.aname[2]" in f:
            return
        p = e.proc.parent
        level = 1
        while p is not None and level < self.levels:
            p = p.parent
            level += 1
            if p is None:
                break
            f[f"proc.aname[{level}]"] = p.name
            f[f"proc.acmdline[{level}]"] = p.cmdline

    # ---- ECS task metadata (async, outside the event path) ----

    async def start(self, tg: TaskGroup) -> None:
        base = self._base
        if not base:
            return  # disabled, or not on ECS: nothing to add, not an error
        try:
            await self.fetch_ecs(base)
        finally:
            self.task.settle()
        if self.cfg.ecs_refresh_secs > 0:
            self._refresh = Periodic(self.cfg.ecs_refresh_secs, lambda: self.fetch_ecs(base))
            self._refresh.start(tg)

    async def stop(self) -> None:
        if self._refresh is not None:
            await self._refresh.stop()

    async def fetch_ecs(self, base: str) -> None:
        import aiohttp  # only on ECS: a start-up without it stays light

        timeout = aiohttp.ClientTimeout(total=self.cfg.ecs_timeout_secs)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                container = await _get_json(session, base.rstrip("/"))
                task = await _get_json(session, base.rstrip("/") + "/task")
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self.ecs_errors += 1
            log.warning("ECS task metadata not available from %s: %s", base, exc)
            return
        fields = ecs_fields(task, container)
        self.ecs = fields
        self.task.update(fields, ecs_mounts(container))


async def _get_json(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(url) as resp:
        resp.raise_for_status()
        doc = await resp.json(content_type=None)
    if not isinstance(doc, dict):
        raise ValueError(f"{url} did not return a JSON object")
    return doc

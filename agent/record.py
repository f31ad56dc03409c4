"""Turn events and alerts into records: Falco's alert envelope as plain dicts.

A record is what every sink receives:

    {"time": "...Z", "source": "syscall", "hostname": "...",
     "output_fields": {"evt.type": ..., "proc.pid": ..., ...}}

An alert adds "rule", "priority", "output", "tags" and "uuid". An event record
carries "priority": "Debug" and "rule": "" is *not* added, so consumers can tell
the two apart by the presence of "rule".
"""

from __future__ import annotations

import socket
import time
from typing import Any

import msgspec

from tracehound.agent.event import Alert, Event, ProcInfo

Record = dict[str, Any]

HOSTNAME = socket.gethostname()
_json_encoder = msgspec.json.Encoder()

# Extra fields merged into every record's output_fields (container.*, aws.ecs.*),
# set once by the enrichment stage when ECS metadata is known.
static_fields: dict[str, Any] = {}


_second: list[Any] = [-1, ""]  # the last second formatted, and its text


def iso_time(ts_ns: int) -> str:
    """RFC 3339 UTC with nanoseconds, as Falco writes it."""
    secs, nanos = divmod(ts_ns, 1_000_000_000)
    if secs != _second[0]:  # events come in bursts within one second: format it once
        _second[0], _second[1] = secs, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return f"{_second[1]}.{nanos:09d}Z"


def proc_fields(proc: ProcInfo) -> dict[str, Any]:
    """The process part of output_fields; built once per snapshot, copied per record."""
    cached = proc.record_cache
    if cached is None:
        cached = _build_proc_fields(proc)
        object.__setattr__(proc, "record_cache", cached)  # a cache, not state: frozen is fine
    return cached.copy()


def _build_proc_fields(proc: ProcInfo) -> dict[str, Any]:
    parent = proc.parent
    out: dict[str, Any] = {
        "proc.pid": proc.pid,
        "proc.ppid": proc.ppid,
        "proc.name": proc.name,
        "proc.exe": proc.argv[0] if proc.argv else proc.exepath,
        "proc.exepath": proc.exepath,
        "proc.cmdline": proc.cmdline,
        "proc.args": proc.args,
        "proc.cwd": proc.cwd,
        "user.uid": proc.uid,
        "group.gid": proc.gid,
        "proc.pname": parent.name if parent else None,
        "proc.pcmdline": parent.cmdline if parent else None,
    }
    return out


def output_fields(event: Event) -> dict[str, Any]:
    out = proc_fields(event.proc)
    out["evt.type"] = event.type
    out["thread.tid"] = event.tid
    out.update(event.fields)
    if static_fields:
        out.update(static_fields)
    return out


def event_record(event: Event) -> Record:
    rec: Record = {
        "time": iso_time(event.ts),
        "source": "syscall",
        "hostname": HOSTNAME,
        "output_fields": output_fields(event),
    }
    if event.tags:
        rec["tags"] = sorted(event.tags)
    return rec


def alert_record(alert: Alert) -> Record:
    rec = event_record(alert.event)
    rec["rule"] = alert.rule
    rec["priority"] = alert.priority
    rec["output"] = alert.output
    rec["tags"] = sorted(set(alert.tags) | alert.event.tags)
    rec["uuid"] = alert.uuid
    return rec


def encode(record: Record) -> bytes:
    return _json_encoder.encode(record)


def encode_lines(records: list[Record]) -> bytes:
    """JSON lines, one record per line, trailing newline included."""
    if not records:
        return b""
    return b"\n".join(_json_encoder.encode(r) for r in records) + b"\n"

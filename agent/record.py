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


def falco_time(ts_ns: int) -> str:
    """Falco's evt.time: local wall-clock time of day with nanoseconds (HH:MM:SS.nnnnnnnnn)."""
    secs, nanos = divmod(ts_ns, 1_000_000_000)
    return time.strftime("%H:%M:%S", time.localtime(secs)) + f".{nanos:09d}"


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
    """Falco's JSON alert: output_fields are exactly the rule output's fields plus evt.time;
    `output` is "<evt.time>: <Priority> <message>"; tags are the rule's tags only."""
    event = alert.event
    if alert.output_fields is not None:
        fields = dict(alert.output_fields)
    else:  # an alert without an output template (the baseline): the event's fields
        fields = output_fields(event)
        fields["evt.time"] = event.ts
    rec: Record = {
        "uuid": alert.uuid,
        "output": f"{falco_time(event.ts)}: {alert.priority} {alert.output}",
        "priority": alert.priority,
        "rule": alert.rule,
        "time": iso_time(event.ts),
        "output_fields": fields,
        "source": "syscall",
        "tags": sorted(alert.tags),
        "hostname": HOSTNAME,
    }
    return rec


def alert_message(rec: Record) -> str:
    """An alert record's message: its `output` without Falco's "<evt.time>: <Priority> "."""
    out = str(rec.get("output", ""))
    prefix_end = out.find(f": {rec.get('priority')} ")
    if prefix_end != -1:
        return out[prefix_end + len(str(rec.get("priority"))) + 3 :]
    return out


def encode(record: Record) -> bytes:
    return _json_encoder.encode(record)


def escape_bytes(text: str) -> str:
    """A name the tracer read as raw bytes (decoded with surrogateescape) as valid
    UTF-8 text: each byte that is not UTF-8 becomes `\\xNN`. The event keeps the bytes
    (rules match them); only the encoded record escapes them."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return escape_bytes(value)
        return value
    if isinstance(value, list | tuple):
        return [_escaped(v) for v in value]
    if isinstance(value, dict):
        return {_escaped(k): _escaped(v) for k, v in value.items()}
    return value


def encode_escaped(record: Record) -> bytes:
    """encode(record); a record holding bytes that are not UTF-8 (a file name, an
    argument) is escaped in place first, so every sink can encode it afterwards.
    The fast path costs nothing: only a record that fails is walked."""
    try:
        return _json_encoder.encode(record)
    except UnicodeEncodeError:
        for key, value in list(record.items()):
            record[key] = _escaped(value)
        return _json_encoder.encode(record)


def encode_lines(records: list[Record]) -> bytes:
    """JSON lines, one record per line, trailing newline included."""
    if not records:
        return b""
    return b"\n".join(_json_encoder.encode(r) for r in records) + b"\n"

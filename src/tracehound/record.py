"""Turn events and alerts into records: Falco's alert envelope as plain dicts.

A record is what every sink receives:

    {"time": "...Z", "source": "syscall", "hostname": "...",
     "output_fields": {"evt.type": ..., "proc.pid": ..., ...}}

An alert adds "rule", "priority", "output", "tags" and "uuid". An event record
carries "priority": "Debug" and "rule": "" is *not* added, so consumers can tell
the two apart by the presence of "rule".

A Record is that dict plus what sinks would otherwise recompute: its time in ns
(never parsed back from the RFC 3339 text) and its JSON bytes, encoded once (the
router measures them for the buffer bound, every sink reuses them).
"""

from __future__ import annotations

import socket
import time
from typing import Any

import msgspec

from tracehound.event import Alert, Event, ProcInfo
from tracehound.families import OPEN
from tracehound.openflags import format_open_flags
from tracehound.task import TaskInfo


class Record(dict[str, Any]):
    """One record: the envelope (read-only for sinks), its time in ns, its JSON once."""

    __slots__ = ("_data", "task", "ts_ns")

    def __init__(self, envelope: dict[str, Any], ts_ns: int, task: TaskInfo | None = None) -> None:
        super().__init__(envelope)
        self.ts_ns = ts_ns
        self.task = task  # the task it happened in (ECS metadata), for sinks that need it
        self._data: bytes | None = None

    @property
    def data(self) -> bytes:
        """The JSON encoding, made on first use and kept (records are never changed
        after it). A record holding bytes that are not UTF-8 (a file name, an argument)
        is escaped in place first; the fast path costs nothing, only a record that
        fails is walked."""
        d = self._data
        if d is None:
            try:
                d = _json_encoder.encode(self)
            except UnicodeEncodeError:
                for key, value in list(self.items()):
                    self[key] = _escaped(value)
                d = _json_encoder.encode(self)
            self._data = d
        return d


HOSTNAME = socket.gethostname()
_json_encoder = msgspec.json.Encoder()


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


def output_fields(event: Event, task: TaskInfo | None = None) -> dict[str, Any]:
    """The event's fields; with `task`, the task's container.* and aws.ecs.* too."""
    out = proc_fields(event.proc)
    out["evt.type"] = event.type
    out["thread.tid"] = event.tid
    out.update(event.fields)
    if event.type in OPEN:
        flags = out.get("evt.arg.flags")
        if isinstance(flags, int):  # kept as the int until here: records carry the names
            out["evt.arg.flags"] = format_open_flags(flags)
    if task is not None and task.fields:
        out.update(task.fields)
    return out


def event_record(event: Event, task: TaskInfo | None = None) -> Record:
    env: dict[str, Any] = {
        "time": iso_time(event.ts),
        "source": "syscall",
        "hostname": HOSTNAME,
        "output_fields": output_fields(event, task),
    }
    if event.tags:
        env["tags"] = sorted(event.tags)
    return Record(env, event.ts, task)


def alert_record(alert: Alert, task: TaskInfo | None = None) -> Record:
    """Falco's JSON alert: output_fields are exactly the rule output's fields plus evt.time;
    `output` is "<evt.time>: <Priority> <message>"; tags are the rule's tags only."""
    event = alert.event
    if alert.output_fields is not None:
        fields = dict(alert.output_fields)
    else:  # an alert without an output template (the baseline): the event's fields
        fields = output_fields(event, task)
        fields["evt.time"] = event.ts
    env = {
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
    return Record(env, event.ts, task)


def alert_message(rec: Record) -> str:
    """An alert record's message: its `output` without Falco's "<evt.time>: <Priority> "."""
    out = str(rec.get("output", ""))
    prefix_end = out.find(f": {rec.get('priority')} ")
    if prefix_end != -1:
        return out[prefix_end + len(str(rec.get("priority"))) + 3 :]
    return out


def encode(record: Record) -> bytes:
    return record.data


def encode_array(records: list[Record]) -> bytes:
    """A JSON array of the records, from their bytes."""
    return b"[" + b",".join([r.data for r in records]) + b"]"


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


def encode_lines(records: list[Record]) -> bytes:
    """JSON lines, one record per line, trailing newline included."""
    if not records:
        return b""
    return b"\n".join([r.data for r in records]) + b"\n"

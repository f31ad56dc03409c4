"""encoding = "ocsf": records as OCSF 1.7.0 objects (Amazon Security Lake's schema).

An alert becomes a Detection Finding (class 2004) whose evidence is the event that
triggered it; an event becomes Process Activity (1007), File System Activity (1001)
or Network Activity (4001) by its syscall. The ECS task is the `cloud` and `device`
objects, the container the `container` object (profiles cloud, container, host).
A syscall without a natural activity keeps its class with activity 99 ("Other")
and its name in activity_name, as OCSF asks for values it does not enumerate.
Falco fields with no OCSF attribute travel in `unmapped`, so nothing is lost.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any

import msgspec

from tracehound import __version__
from tracehound.families import EXEC
from tracehound.record import HOSTNAME, Record

OCSF_VERSION = "1.7.0"

_json = msgspec.json.Encoder()

# (class_uid, class name, category_uid, category name)
PROCESS = (1007, "Process Activity", 1, "System Activity")
FILE = (1001, "File System Activity", 1, "System Activity")
NETWORK = (4001, "Network Activity", 4, "Network Activity")
FINDING = (2004, "Detection Finding", 2, "Findings")

# evt.type -> (class, activity_id, activity name). Anything else is Process Activity 99.
_ACTIVITY: dict[str, tuple[tuple[int, str, int, str], int, str]] = {}


def _add(cls: tuple[int, str, int, str], activity: int, name: str, *syscalls: str) -> None:
    for s in syscalls:
        _ACTIVITY[s] = (cls, activity, name)


_add(PROCESS, 1, "Launch", *sorted(EXEC))
_add(PROCESS, 2, "Terminate", "procexit")
_add(PROCESS, 3, "Open", "process_vm_readv")
_add(PROCESS, 4, "Inject", "ptrace", "process_vm_writev")
_add(PROCESS, 5, "Set User ID", "setuid", "setreuid", "setresuid", "setfsuid")
_add(FILE, 1, "Create", "creat", "mkdir", "mkdirat", "symlink", "symlinkat", "link", "linkat")
_add(FILE, 1, "Create", "memfd_create")
_add(FILE, 3, "Update", "truncate")
_add(FILE, 4, "Delete", "unlink", "unlinkat", "rmdir")
_add(FILE, 5, "Rename", "rename", "renameat", "renameat2")
_add(FILE, 7, "Set Security", "chmod", "fchmod", "fchmodat", "fchmodat2")
_add(FILE, 7, "Set Security", "chown", "lchown", "fchown", "fchownat")
_add(FILE, 12, "Mount", "mount")
_add(FILE, 13, "Unmount", "umount", "umount2")
_add(FILE, 14, "Open", "open", "openat", "openat2")
_add(NETWORK, 1, "Open", "connect", "accept", "accept4")
_add(NETWORK, 6, "Traffic", "sendto")
_add(NETWORK, 7, "Listen", "listen")
_add(NETWORK, 99, "bind", "bind")

# Falco priority -> OCSF severity_id and its caption.
_SEVERITY = {
    "Emergency": (6, "Fatal"),
    "Alert": (5, "Critical"),
    "Critical": (5, "Critical"),
    "Error": (4, "High"),
    "Warning": (3, "Medium"),
    "Notice": (2, "Low"),
    "Informational": (1, "Informational"),
    "Info": (1, "Informational"),
    "Debug": (1, "Informational"),
}

# Fields given an OCSF home below; every other output field goes to `unmapped`.
_MAPPED = frozenset(
    {
        "evt.type",
        "evt.time",
        *("proc.pid", "proc.ppid", "proc.name", "proc.exe", "proc.exepath", "proc.cmdline"),
        *("proc.args", "proc.cwd", "proc.pname", "proc.pcmdline", "thread.tid"),
        *("user.uid", "user.name", "group.gid", "group.name"),
        *("container.id", "container.name", "container.image", "container.image.repository"),
        *("container.image.tag", "container.start_ts"),
        *("aws.ecs.task_arn", "aws.ecs.cluster", "aws.ecs.task_family"),
        *("aws.ecs.task_revision", "aws.ecs.availability_zone", "aws.ecs.launch_type"),
        *("fd.name", "fd.sip", "fd.sport", "fd.cip", "fd.cport", "fd.lip", "fd.lport"),
        *("fd.rip", "fd.rport", "fd.l4proto", "evt.arg.oldpath", "evt.arg.newpath"),
        *("evt.arg.path", "evt.arg.target", "evt.arg.pid"),
    }
)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    # Callers pass None, never {}, for an empty object: one comparison less per value.
    return {k: v for k, v in d.items() if v is not None and v != ""}


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _user(f: dict[str, Any]) -> dict[str, Any] | None:
    uid = _int(f.get("user.uid"))
    user = _drop_none(
        {"uid": None if uid is None else str(uid), "name": f.get("user.name"), "type_id": None}
    )
    return user or None


def _container(f: dict[str, Any]) -> dict[str, Any] | None:
    cid, name = f.get("container.id"), f.get("container.name")
    if not cid and not name:
        return None
    image = f.get("container.image")
    out: dict[str, Any] = {"uid": cid, "name": name}
    if image:
        out["image"] = _drop_none(
            {
                "uid": image,
                "name": f.get("container.image.repository") or image,
                "tag": f.get("container.image.tag"),
            }
        )
    if f.get("aws.ecs.task_arn"):
        out["orchestrator"] = "Amazon ECS"
    return _drop_none(out)


def _file(path: Any, type_id: int = 1) -> dict[str, Any] | None:
    if not isinstance(path, str) or not path:
        return None
    name = posixpath.basename(path.rstrip("/")) or path
    return {"name": name, "path": path, "type_id": type_id}


def _process(f: dict[str, Any], container: dict[str, Any] | None) -> dict[str, Any] | None:
    parent = _drop_none(
        {
            "pid": _int(f.get("proc.ppid")),
            "name": f.get("proc.pname"),
            "cmd_line": f.get("proc.pcmdline"),
        }
    )
    if parent and "name" not in parent:
        parent["name"] = f"pid {parent.get('pid', '?')}"  # OCSF: a process needs a name or uid
    exepath = f.get("proc.exepath")
    out = _drop_none(
        {
            "pid": _int(f.get("proc.pid")),
            "tid": _int(f.get("thread.tid")),
            "name": f.get("proc.name"),
            "cmd_line": f.get("proc.cmdline"),
            "path": exepath,
            "file": _file(exepath, 8),
            "working_directory": f.get("proc.cwd"),
            "user": _user(f),
            "parent_process": parent or None,
            "container": container,
        }
    )
    if not out:
        return None
    out.setdefault("name", f"pid {out.get('pid', '?')}")
    return out


def _parent_as_actor(proc: dict[str, Any] | None) -> dict[str, Any] | None:
    """exec: the process that asked is the new program's parent (same pid after exec)."""
    if not proc:
        return None
    parent = proc.get("parent_process")
    return {"process": parent} if parent else {"process": proc}


def _endpoint(ip: Any, port: Any, name: Any = None) -> dict[str, Any] | None:
    if not ip and not name:
        return None
    label = name or (f"{ip}:{port}" if port is not None else ip)
    return _drop_none({"ip": ip or None, "port": _int(port), "name": label})


_context_cache: dict[tuple[Any, ...], tuple[dict[str, Any] | None, dict[str, Any]]] = {}


def _static(rec: Record) -> dict[str, Any]:
    """The task's fields (ECS enrichment) the record was made with."""
    task = getattr(rec, "task", None)
    return task.fields if task is not None else {}


def _context(rec: Record) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(cloud, device) of the task: the same for every record until the ECS metadata
    changes, so built once per such state (callers copy device, never change cloud)."""
    st = _static(rec)
    # The environment's region is read when the context is built (ECS sets it once).
    key = (st.get("aws.ecs.task_arn"), st.get("aws.ecs.availability_zone"))
    hit = _context_cache.get(key)
    if hit is None:
        if len(_context_cache) > 16:
            _context_cache.clear()
        hit = _context_cache[key] = _build_context(st)
    return hit


def _build_context(st: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    arn = st.get("aws.ecs.task_arn")
    region = account = None
    if isinstance(arn, str) and arn.startswith("arn:"):
        parts = arn.split(":")
        if len(parts) > 4:
            region, account = parts[3] or None, parts[4] or None
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    zone = st.get("aws.ecs.availability_zone")
    cloud = None
    if arn or region:
        cloud = _drop_none(
            {
                "provider": "AWS",
                "region": region,
                "zone": zone,
                "account": {"uid": account, "type_id": 10, "type": "AWS Account"}
                if account
                else None,
            }
        )
    device = _drop_none(
        {
            "type_id": 6,  # a Fargate task is a virtual machine of its own
            "type": "Virtual",
            "hostname": HOSTNAME,
            "name": HOSTNAME,
            "uid": arn,
            "region": region,
            "zone": zone,
        }
    )
    return cloud, device


def _fields(rec: Record) -> dict[str, Any]:
    """The record's fields with the task's (an alert carries only its rule's output fields)."""
    f: dict[str, Any] = rec.get("output_fields") or {}
    st = _static(rec)
    return {**st, **f} if st else f


def _base(
    rec: Record, cls: tuple[int, str, int, str], activity: int, activity_name: str
) -> dict[str, Any]:
    class_uid, class_name, category_uid, category_name = cls
    f = _fields(rec)
    cloud, shared_device = _context(rec)
    device = dict(shared_device)
    container = _container(f)
    if container:
        device["container"] = container
    profiles = ["container", "host"] + (["cloud"] if cloud else [])
    out: dict[str, Any] = {
        "class_uid": class_uid,
        "class_name": class_name,
        "category_uid": category_uid,
        "category_name": category_name,
        "activity_id": activity,
        "activity_name": activity_name,
        "type_uid": class_uid * 100 + activity,
        "type_name": f"{class_name}: {activity_name}",
        "time": rec.ts_ns // 1_000_000,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "tracehound", "vendor_name": "tracehound", "version": __version__},
            "profiles": profiles,
            "log_name": str(rec.get("source") or "syscall"),
        },
        "device": device,
    }
    if cloud:
        out["cloud"] = cloud
    own = rec.get("output_fields") or {}
    unmapped = {k: v for k, v in own.items() if k not in _MAPPED and v is not None}
    if unmapped:
        out["unmapped"] = unmapped
    return out


def _activity(f: dict[str, Any]) -> tuple[tuple[int, str, int, str], int, str]:
    etype = str(f.get("evt.type") or "")
    hit = _ACTIVITY.get(etype)
    if hit:
        return hit
    if etype in ("sendmsg", "socket", "recvfrom") or "fd.sip" in f:
        return NETWORK, 99, etype or "Other"
    return PROCESS, 99, etype or "Other"


def _status(f: dict[str, Any]) -> dict[str, Any]:
    res = _int(f.get("evt.res"))
    if f.get("evt.failed") or (res is not None and res < 0):
        return {"status_id": 2, "status": "Failure"}
    if res is not None:
        return {"status_id": 1, "status": "Success"}
    return {}


def _objects(f: dict[str, Any], cls: tuple[int, str, int, str]) -> dict[str, Any]:
    """The class's own objects (actor, process, file, endpoints) from the event's fields."""
    container = _container(f)
    proc = _process(f, container)
    etype = str(f.get("evt.type") or "")
    out: dict[str, Any] = {}
    if cls is PROCESS:
        if etype in EXEC:
            out["actor"] = _parent_as_actor(proc) or {"app_name": "unknown"}
            out["process"] = proc or {"name": "unknown"}
        else:
            out["actor"] = {"process": proc} if proc else {"app_name": "unknown"}
            target = _int(f.get("evt.arg.pid"))
            out["process"] = {"pid": target, "name": f"pid {target}"} if target else proc
            if out["process"] is None:
                out["process"] = {"name": "unknown"}
    elif cls is FILE:
        out["actor"] = {"process": proc} if proc else {"app_name": "unknown"}
        type_id = 2 if etype in ("mkdir", "mkdirat", "rmdir") else 1
        if etype in ("symlink", "symlinkat"):
            type_id = 7
        path = f.get("evt.arg.oldpath") or f.get("evt.arg.path") or f.get("fd.name")
        out["file"] = _file(path, type_id) or {"name": "unknown", "type_id": 0}
        new = f.get("evt.arg.newpath") or f.get("evt.arg.target")
        if new and etype.startswith("rename"):
            out["file_result"] = _file(new, type_id)
    else:
        out["actor"] = {"process": proc} if proc else None
        if etype in ("accept", "accept4"):
            out["src_endpoint"] = _endpoint(f.get("fd.cip"), f.get("fd.cport"))
            out["dst_endpoint"] = _endpoint(f.get("fd.lip"), f.get("fd.lport"))
            out["connection_info"] = _conn(f, 1)
        else:
            out["dst_endpoint"] = _endpoint(f.get("fd.sip"), f.get("fd.sport"), f.get("fd.name"))
            out["src_endpoint"] = _endpoint(f.get("fd.lip"), f.get("fd.lport"))
            out["connection_info"] = _conn(f, 2 if etype != "listen" else 1)
        if not out.get("dst_endpoint") and not out.get("src_endpoint"):
            out["dst_endpoint"] = {"name": str(f.get("fd.name") or "unknown")}
    return _drop_none(out)


def _conn(f: dict[str, Any], direction: int) -> dict[str, Any]:
    out: dict[str, Any] = {"direction_id": direction}
    proto = f.get("fd.l4proto")
    if isinstance(proto, str) and proto and proto != "unknown":
        out["protocol_name"] = proto
        num = {"tcp": 6, "udp": 17, "icmp": 1}.get(proto)
        if num is not None:
            out["protocol_num"] = num
    return out


def event_to_ocsf(rec: Record) -> dict[str, Any]:
    f = _fields(rec)
    cls, activity, name = _activity(f)
    out = _base(rec, cls, activity, name)
    out["severity_id"], out["severity"] = 1, "Informational"
    out.update(_objects(f, cls))
    out.update(_status(f))
    return out


def alert_to_ocsf(rec: Record) -> dict[str, Any]:
    """A Detection Finding; the event that matched the rule is its evidence."""
    f = _fields(rec)
    out = _base(rec, FINDING, 1, "Create")
    sev_id, sev = _SEVERITY.get(str(rec.get("priority")), (99, str(rec.get("priority"))))
    rule = str(rec.get("rule") or "unnamed rule")
    ms = out["time"]
    from tracehound.record import alert_message

    out.update(
        {
            "severity_id": sev_id,
            "severity": sev,
            "status_id": 1,
            "status": "New",
            "is_alert": True,
            "message": alert_message(rec),
            "finding_info": _drop_none(
                {
                    "uid": str(rec.get("uuid") or f"{rule}-{ms}"),
                    "title": rule,
                    "desc": alert_message(rec),
                    "created_time": ms,
                    "types": list(rec.get("tags") or []) or None,
                    "analytic": {"type_id": 1, "type": "Rule", "name": rule},
                }
            ),
        }
    )
    out["evidences"] = [_evidence(f)]
    out["metadata"]["uid"] = out["finding_info"]["uid"]
    return out


def _evidence(f: dict[str, Any]) -> dict[str, Any]:
    """The triggering event: an alert carries only its rule's output fields, so take every
    part that is there (process and parent, file, endpoints) whatever the syscall."""
    container = _container(f)
    proc = _process(f, container)
    etype = str(f.get("evt.type") or "")
    name = f.get("fd.name")
    ip = f.get("fd.sip") or f.get("fd.rip")
    out: dict[str, Any] = {
        "name": etype or "syscall",
        "process": proc,
        "actor": _parent_as_actor(proc),
        "file": _file(name) if isinstance(name, str) and name.startswith("/") else None,
        "dst_endpoint": _endpoint(ip, f.get("fd.sport") or f.get("fd.rport")) if ip else None,
        "container": container,
    }
    if f.get("fd.cip"):
        out["src_endpoint"] = _endpoint(f.get("fd.cip"), f.get("fd.cport"))
    return _drop_none(out)


def to_ocsf(rec: Record) -> dict[str, Any]:
    return alert_to_ocsf(rec) if "rule" in rec else event_to_ocsf(rec)


def encode_ocsf(rec: Record) -> bytes:
    return _json.encode(to_ocsf(rec))


def encode_ocsf_lines(records: list[Record]) -> bytes:
    if not records:
        return b""
    return b"\n".join(encode_ocsf(r) for r in records) + b"\n"

"""Check a record against the OCSF schema extract in ocsf/ (data taken from the published
ocsf/ocsf-schema release; see the file's "source"). Strict on purpose: an attribute the
class or object does not define, a missing required attribute (of a declared profile),
a broken constraint, a wrong type, an enum value OCSF does not list, or an object type
missing from the extract is an error."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

EXTRACT = Path(__file__).parent / "ocsf" / "ocsf-1.7.0-extract.json"


@cache
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXTRACT.read_text())
    return data


def class_by_uid(uid: int) -> dict[str, Any]:
    for c in schema()["classes"].values():
        if c["uid"] == uid:
            return dict(c)
    raise KeyError(f"class {uid} is not in the extract")


def validate(rec: dict[str, Any]) -> list[str]:
    """Every problem found in one OCSF record (empty: valid)."""
    errs: list[str] = []
    uid = rec.get("class_uid")
    try:
        cls = class_by_uid(uid)  # type: ignore[arg-type]
    except KeyError as exc:
        return [str(exc)]
    profiles = set(rec.get("metadata", {}).get("profiles", []))
    _entity(rec, cls, "", profiles, errs)
    if rec.get("type_uid") != uid * 100 + rec.get("activity_id", -1):  # type: ignore[operator]
        errs.append(f"type_uid {rec.get('type_uid')} is not class_uid * 100 + activity_id")
    if rec.get("metadata", {}).get("version") != schema()["version"]:
        errs.append(f"metadata.version is not {schema()['version']}")
    return errs


def _entity(
    obj: Any, spec: dict[str, Any], where: str, profiles: set[str], errs: list[str]
) -> None:
    if not isinstance(obj, dict):
        errs.append(f"{where or '.'}: expected an object, got {obj!r}")
        return
    attrs = spec["attributes"]
    for key, value in obj.items():
        if key not in attrs:
            errs.append(f"{where}{key}: not an attribute of this class/object")
            continue
        _value(value, attrs[key], f"{where}{key}", profiles, errs)
    for key, a in attrs.items():
        if a["requirement"] != "required" or key in obj:
            continue
        if a.get("profile") and a["profile"] not in profiles:
            continue  # required only by a profile the record does not declare
        errs.append(f"{where}{key}: required, missing")
    for kind, keys in (spec.get("constraints") or {}).items():
        present = [k for k in keys if k in obj]
        if kind == "at_least_one" and not present:
            errs.append(f"{where or '.'}: needs at least one of {keys}")
        if kind == "just_one" and len(present) != 1:
            errs.append(f"{where or '.'}: needs exactly one of {keys}, got {present}")


def _value(v: Any, a: dict[str, Any], where: str, profiles: set[str], errs: list[str]) -> None:
    if a["is_array"]:
        if not isinstance(v, list):
            errs.append(f"{where}: expected an array, got {v!r}")
            return
        for i, item in enumerate(v):
            _one(item, a, f"{where}[{i}]", profiles, errs)
        return
    _one(v, a, where, profiles, errs)


def _one(v: Any, a: dict[str, Any], where: str, profiles: set[str], errs: list[str]) -> None:
    t = a["type"]
    s = schema()
    if "enum" in a and v not in a["enum"]:
        errs.append(f"{where}: {v!r} is not one of {a['enum']}")
    if t == "object" or t == "json_t":
        return
    if t in s["objects"]:
        _entity(v, s["objects"][t], where + ".", profiles, errs)
        return
    if t not in s["types"]:
        errs.append(f"{where}: type {t} is not in the extract")
        return
    spec = s["types"][t]
    base = spec["type"]
    ok = {
        "string_t": isinstance(v, str),
        "integer_t": isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31,
        "long_t": isinstance(v, int) and not isinstance(v, bool),
        "boolean_t": isinstance(v, bool),
        "float_t": isinstance(v, int | float) and not isinstance(v, bool),
    }.get(base, True)
    if not ok:
        errs.append(f"{where}: {v!r} is not a {t} ({base})")
        return
    rng = spec.get("range")
    if rng and not rng[0] <= v <= rng[1]:
        errs.append(f"{where}: {v!r} is outside {rng}")
    if spec.get("regex") and isinstance(v, str) and not re.search(spec["regex"], v):
        errs.append(f"{where}: {v!r} does not match the {t} pattern")
    if spec.get("max_len") and isinstance(v, str) and len(v) > spec["max_len"]:
        errs.append(f"{where}: longer than {spec['max_len']}")

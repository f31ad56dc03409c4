"""Collect every type error in a decoded TOML document, not just the first.

msgspec stops at the first problem and reports dict keys as `[...]`. This walks
the target type field by field so each error carries its full key path
(`sinks.siem.batch.max_events`), then the caller converts the whole document
once it is known to be clean.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import msgspec

from tracehound.config_checks import parse_problems


def _union_members(tp: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return typing.get_args(tp)
    return ()


def _tagged_structs(tp: Any) -> dict[str, type[msgspec.Struct]] | None:
    """For a union of tagged Structs, map tag value -> Struct type."""
    members = _union_members(tp)
    if not members:
        return None
    tagged: dict[str, type[msgspec.Struct]] = {}
    for m in members:
        if isinstance(m, type) and issubclass(m, msgspec.Struct):
            info = m.__struct_config__
            if info.tag_field and isinstance(info.tag, str):
                tagged[info.tag] = m
    return tagged or None


def collect_errors(value: Any, tp: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    """Every problem found converting `value` to `tp`, with key paths."""
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return _struct_errors(value, tp, path)
    tagged = _tagged_structs(tp)
    if tagged is not None:
        if not isinstance(value, dict):
            return [(path, f"expected a table, got {type(value).__name__}")]
        tag_field = next(iter(tagged.values())).__struct_config__.tag_field
        assert tag_field is not None
        tag = value.get(tag_field)
        if tag is not None and not isinstance(tag, str):
            return [((*path, tag_field), f"must be a string, got {type(tag).__name__}")]
        if tag is None:
            return [
                (path, f"missing required key `{tag_field}` (one of {', '.join(sorted(tagged))})")
            ]
        if tag not in tagged:
            return [
                (
                    (*path, tag_field),
                    f"unknown {tag_field} {tag!r} (expected one of {', '.join(sorted(tagged))})",
                )
            ]
        return _struct_errors(value, tagged[tag], path)
    origin = typing.get_origin(tp)
    literals = typing.get_args(tp) if origin is typing.Literal else ()
    if literals and type(value) is type(literals[0]) and value not in literals:
        allowed = ", ".join(repr(a) for a in literals)
        return [(path, f"invalid value {value!r} (expected one of {allowed})")]
    if origin is dict and isinstance(value, dict):
        _, vtp = typing.get_args(tp)
        errs = []
        for k, v in value.items():
            errs += collect_errors(v, vtp, (*path, str(k)))
        return errs
    try:
        msgspec.convert(value, tp)
    except msgspec.ValidationError as exc:
        msg = str(exc)
        keyed = parse_problems(msg)
        if keyed is not None:  # a struct inside an optional or a union
            return [((*path, *key.split(".")), text) for key, text in keyed]
        where = msg.rfind(" - at `$")
        extra: tuple[str, ...] = ()
        if where != -1:
            sub = msg[where + 8 : -1].strip(".")
            msg = msg[:where]
            extra = tuple(p for p in sub.replace("[", ".").replace("]", "").split(".") if p)
        return [((*path, *extra), _with_value(msg, _value_at(value, extra)))]
    return []


_MISSING = object()


def _value_at(value: Any, keys: tuple[str, ...]) -> Any:
    """The value msgspec complained about, found by the key path it gave."""
    for key in keys:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return _MISSING
    return value


def _with_value(msg: str, value: Any) -> str:
    """msgspec's "Expected `float` <= 1.0" names the bound, not the value: add it."""
    if value is _MISSING or isinstance(value, dict | list):
        return msg
    if ", got `" in msg:  # a type error already names the type it got: add the value
        return f"{msg} ({value!r})"
    return f"{msg}, got {value!r}"


def _struct_errors(
    value: Any, tp: type[msgspec.Struct], path: tuple[str, ...]
) -> list[tuple[tuple[str, ...], str]]:
    if not isinstance(value, dict):
        return [(path, f"expected a table, got {type(value).__name__}")]
    info = tp.__struct_config__
    fields = {f.encode_name: f for f in msgspec.structs.fields(tp)}
    hints = typing.get_type_hints(tp, include_extras=True)
    errs: list[tuple[tuple[str, ...], str]] = []
    for key in value:
        if key == info.tag_field:
            continue
        if key not in fields:
            errs.append(((*path, key), f"unknown key `{key}` (known: {', '.join(sorted(fields))})"))
    for name, f in fields.items():
        if name not in value:
            if f.required:
                errs.append(((*path, name), f"missing required key `{name}`"))
            continue
        errs += collect_errors(value[name], hints[f.name], (*path, name))
    if not errs:
        # Cross-field checks in __post_init__ raise ValueError; msgspec wraps them.
        try:
            msgspec.convert(value, tp)
        except msgspec.ValidationError as exc:
            keyed = parse_problems(str(exc))
            if keyed is None:
                errs.append((path, str(exc).split(" - at `$")[0]))
            else:
                errs += [((*path, *key.split(".")), msg) for key, msg in keyed]
    return errs

"""Rule outputs: "%proc.name read %fd.name" rendered for an event, and Falco's
output_fields (the value of each field the output names)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tracehound.event import Event
from tracehound.filters.falco.codegen import _Gen, field_expr
from tracehound.filters.falco.fields import FIELDS, FieldContext, generic_field
from tracehound.filters.falco.syntax import UnsupportedError

_PLACEHOLDER = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)(?:\[([^\]]*)\])?")


class OutputTemplate:
    """A rule's output: the rendered message and the values of the fields it names."""

    def __init__(self, template: str, ctx: FieldContext | None = None) -> None:
        parts: list[str | Callable[[Event], Any]] = []
        getters: dict[str, Callable[[Event], Any]] = {}
        last = 0
        g = _Gen(ctx)
        for m in _PLACEHOLDER.finditer(template):
            name, idx = m.group(1), m.group(2)
            spec = FIELDS.get(name) or generic_field(name)
            if spec is None:
                raise UnsupportedError(f"unknown field {name!r} in output", m.start() + 1, name)
            parts.append(template[last : m.start()])
            expr, ftype = field_expr(name, idx)
            if ftype == "list":
                expr = f"(None if (_l := {expr}) is None else ' '.join(map(str, _l)))"
            getter = eval(f"lambda e: {expr}", g.ns)
            parts.append(getter)
            getters[m.group(0)[1:]] = getter
            last = m.end()
        parts.append(template[last:])
        self._parts = [p for p in parts if p != ""]
        self._ns = g.ns
        self._getters = getters

    def bind(self, ctx: FieldContext) -> None:
        """Make the getters read `ctx` (they share one namespace)."""
        self._ns["_ctx"] = ctx

    @property
    def field_names(self) -> list[str]:
        return list(self._getters)

    def __call__(self, e: Event) -> str:
        out = []
        for p in self._parts:
            if isinstance(p, str):
                out.append(p)
            else:
                v = p(e)
                out.append("<NA>" if v is None else str(v))
        return "".join(out)

    def fields(self, e: Event) -> dict[str, Any]:
        """Falco's output_fields: each referenced field (None when unknown) plus evt.time."""
        out: dict[str, Any] = {"evt.time": e.ts}
        for name, getter in self._getters.items():
            if name == "evt.time":
                continue  # output_fields carries the raw ns timestamp, as Falco's JSON does
            out[name] = getter(e)
        return out


def compile_output(template: str, ctx: FieldContext | None = None) -> OutputTemplate:
    """Render %field placeholders; unknown values print as <NA> like Falco."""
    return OutputTemplate(template, ctx)

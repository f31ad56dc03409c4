"""The field registry: what a rule condition or output may read, and what it costs.

Rules are compiled to Python source (see ../codegen.py), so each field is described
by the expression that reads it from an Event `e`, its value type, its cost and
whether it may read /proc. A family module (evt.py, proc.py, fd.py, user.py,
container.py) defines each of its fields once with `define` and registers the
helper functions its expressions call with `@helper`. A value that cannot be known
is None, and every comparison with None is false, as in Falco.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

# Value types: "str", "int", "bool", "list" (`=`/`in` match any element; `elem`
# gives the element type), "net" (a list of addresses compared with CIDR values),
# "any" (compared as text, or as a number when both sides are numbers), "uid" (like
# "any", and a user name matches its uid too).
FieldType = str

# Relative costs of reading a field, used to test cheap checks first (codegen.optimize).
LOOKUP = 1.0  # an attribute or dict lookup inlined in the generated code
CALL = 4.0  # a call of a Python helper
PROC_READ = 20.0  # added when the field may read /proc/<pid> the first time


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: FieldType
    expr: str  # Python expression over `e`; may contain {arg} for indexed fields
    indexed: bool = False  # proc.aname[N] style: requires [N]
    index_optional: bool = False  # proc.aname without [N] means "any ancestor"
    any_expr: str = ""  # expression used when an optional index is absent
    key_type: str = "int"  # "int": [N] is a number ({arg}); "str": any text ({key}, quoted)
    elem: str = "str"  # element type of a "list" field
    cost: float = LOOKUP
    proc: bool = False  # reads /proc/<pid> (once per process snapshot, see ../procfs.py)
    # Its value may differ between two events with the same type, fields, tags and
    # process snapshot (it reads the time, the thread or the chain's state `_ctx`):
    # the engine never reuses a verdict of a rule that reads it (engine.py, memo).
    varies: bool = False
    # Reads the files written during this run (FieldContext.written): steady while that
    # set does not change (WrittenFiles.version is part of the engine's memo key).
    written: bool = False


FIELDS: dict[str, FieldSpec] = {}
# What in an expression makes a field vary between equal events (see FieldSpec.varies);
# a helper that reads them is marked with varies=True where it is defined.
_VARYING = ("_ctx", "e.ts", "e.tid")
# Names the generated code may call: helpers of every family, plus a few constants.
HELPERS: dict[str, Any] = {}

F = TypeVar("F", bound=Callable[..., Any])


def helper(fn: F) -> F:
    """Register a function under its own name for the generated code."""
    HELPERS[fn.__name__] = fn
    return fn


def define(
    name: str, type_: FieldType, expr: str, *, cost: float = LOOKUP, proc: bool = False, **kw: Any
) -> None:
    """Define a field; each name once (a second definition is a bug in a family module)."""
    if name in FIELDS:
        raise ValueError(f"field {name} is defined twice")
    if not kw.get("written") and any(s in expr for s in _VARYING):
        kw["varies"] = True
    FIELDS[name] = FieldSpec(
        name, type_, expr, cost=cost + (PROC_READ if proc else 0.0), proc=proc, **kw
    )


def arg(name: str) -> str:
    """The expression reading a value the tracer decoded into the event's fields."""
    return f"e.fields.get({name!r})"


def field_names() -> list[str]:
    return sorted(FIELDS)


def generic_field(name: str) -> FieldSpec | None:
    """evt.arg.NAME for any argument name: read what the tracer decoded under that name."""
    if not name.startswith("evt.arg.") or len(name) <= 8:
        return None
    key = name[8:]
    if not key.replace("_", "").isalnum():
        return None
    spec = FieldSpec(name, "any", f"_h_arg(e, {key!r})", cost=CALL)
    FIELDS[name] = spec
    return spec


def proc_level_fields() -> frozenset[str]:
    """Fields that read /proc/<pid>: the chain reads those at exec when a rule needs them."""
    return frozenset(n for n, spec in FIELDS.items() if spec.proc)

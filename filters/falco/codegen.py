"""Compile a condition AST into one Python function `match(e) -> bool`.

Each check becomes an inline expression (constants bound by name), and the whole
condition one lambda built with `eval` once at load time. Compared with a tree of
small closures this saves a Python call per node, which matters at 200k events/s.
Type errors (a number compared with `contains`, `<` on a string...) are raised
here as ConditionError with the position of the offending check.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import posixpath
import re
from collections.abc import Callable
from typing import Any

from tracehound.event import Event
from tracehound.filters.falco.fields import FIELDS, HELPERS, FieldContext, FieldSpec
from tracehound.filters.falco.syntax import (
    BoolOp,
    Check,
    ConditionError,
    Const,
    Node,
    Not,
    UnsupportedError,
)

Matcher = Callable[[Event], bool]

_STR_OPS = frozenset(
    {
        "contains", "icontains", "bcontains", "startswith", "bstartswith", "endswith",
        "glob", "iglob", "regex",
    }
)  # fmt: skip
_ORDER_OPS = frozenset({"<", "<=", ">", ">="})
_TRANSFORM_HELPERS = {
    "tolower": "_h_tf_lower",
    "toupper": "_h_tf_upper",
    "b64": "_h_tf_b64",
    "basename": "_h_tf_basename",
    "len": "_h_tf_len",
}


def _h_tf_lower(v: Any) -> Any:
    return v.lower() if isinstance(v, str) else v


def _h_tf_upper(v: Any) -> Any:
    return v.upper() if isinstance(v, str) else v


def _h_tf_b64(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    try:
        return base64.b64decode(v, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None


def _h_tf_basename(v: Any) -> Any:
    return posixpath.basename(v) if isinstance(v, str) else v


def _h_tf_len(v: Any) -> int | None:
    if v is None:
        return None
    return len(v) if isinstance(v, str | list | tuple) else len(str(v))


def field_expr(name: str, arg: str | None, transforms: tuple[str, ...] = ()) -> tuple[str, str]:
    """The Python expression reading a field (with its [arg] and transformers) and its type."""
    spec: FieldSpec = FIELDS[name]
    if spec.indexed and arg is None:
        # proc.aname without [N]: every ancestor (a list); proc.env without [NAME]: all of it.
        expr, ftype = spec.any_expr, (spec.type if spec.key_type == "str" else "list")
    else:
        if arg is not None and spec.key_type == "int" and not (arg.isascii() and arg.isdigit()):
            raise ConditionError(f"index of {name!r} must be a number, got {arg!r}", 1)
        expr = spec.expr.replace("{arg}", arg or "0").replace("{key}", repr(arg or ""))
        ftype = spec.type
    for t in transforms:
        expr = f"{_TRANSFORM_HELPERS[t]}({expr})"
        ftype = "int" if t == "len" else "str"
    return expr, ftype


def _field_cmp(op: str, a: Any, b: Any) -> bool:
    """`field OP val(other)`: both values known, compared as Falco compares two fields."""
    if a is None or b is None:
        return False
    if op == "=":
        return bool(a == b or str(a) == str(b))
    if op == "!=":
        return not (a == b or str(a) == str(b))
    if op in ("<", "<=", ">", ">="):
        try:
            x, y = int(a), int(b)
        except (TypeError, ValueError):
            return False
        return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
    sa, sb = str(a), str(b)
    return _str_cmp(op, sa, sb)


def _str_cmp(op: str, x: str, y: str) -> bool:
    if op == "contains":
        return y in x
    if op == "icontains":
        return y.lower() in x.lower()
    if op == "startswith":
        return x.startswith(y)
    if op == "endswith":
        return x.endswith(y)
    if op == "glob":
        return fnmatch.fnmatchcase(x, y)
    return False


def _pmatch(value: Any, prefixes: tuple[str, ...]) -> bool:
    """Falco's pmatch: the path equals a prefix or lies below it."""
    if not isinstance(value, str):
        return False
    for p in prefixes:
        if value == p or (value.startswith(p) and (p.endswith("/") or value[len(p)] == "/")):
            return True
    return False


def _any_eq(value: Any, text: str) -> bool:
    if value is None:
        return False
    if value == text or str(value) == text:
        return True
    try:
        return bool(value == int(text, 0))
    except (TypeError, ValueError):
        return False


class _Gen:
    def __init__(self, ctx: FieldContext | None) -> None:
        self.ns: dict[str, Any] = dict(HELPERS)
        # The state helpers read (written files, user names, task metadata): the chain's.
        self.ns["_ctx"] = ctx if ctx is not None else FieldContext()
        for fn in (_h_tf_lower, _h_tf_upper, _h_tf_b64, _h_tf_basename, _h_tf_len):
            self.ns[fn.__name__] = fn
        self.ns["_pmatch"] = _pmatch
        self.ns["_any_eq"] = _any_eq
        self.ns["_field_cmp"] = _field_cmp
        self.n = 0

    def const(self, value: Any) -> str:
        self.n += 1
        name = f"_c{self.n}"
        self.ns[name] = value
        return name

    def tmp(self) -> str:
        self.n += 1
        return f"_t{self.n}"

    def gen(self, node: Node) -> str:
        if isinstance(node, Const):
            return "True" if node.value else "False"
        if isinstance(node, Not):
            return f"(not {self.gen(node.item)})"
        if isinstance(node, BoolOp):
            if not node.items:
                return "True" if node.op == "and" else "False"
            return "(" + f" {node.op} ".join(self.gen(i) for i in node.items) + ")"
        return self.check(node)

    def check(self, c: Check) -> str:
        expr, ftype = field_expr(c.field, c.arg, c.transforms)
        op = "=" if c.op == "==" else c.op
        if op == "exists":
            return f"({expr} is not None)"
        if c.rhs_field is not None:
            other, _ = field_expr(*c.rhs_field)
            if op not in ("=", "!=", "<", "<=", ">", ">=", "contains", "icontains",
                          "startswith", "endswith", "glob"):  # fmt: skip
                raise UnsupportedError(
                    f"operator {op!r} with val() is not supported", c.pos, f"{op} val()"
                )
            return f"_field_cmp({op!r}, {expr}, {other})"
        if c.field == "evt.dir" and not c.transforms:
            # One tracehound record stands for both the enter and the exit of a syscall.
            if op in ("=", "in"):
                return "True" if {"<", ">"} & set(c.values) else "False"
            if op == "!=":
                return "False" if c.values[0] in ("<", ">") else "True"
        if ftype == "net":
            return self.net_check(c, op, expr)
        if ftype == "list":
            elem = FIELDS[c.field].elem
            vals = [self.convert(c, elem, v) for v in c.values]
            return self.list_check(c, op, expr, vals)
        vals = [self.convert(c, ftype, v) for v in c.values]
        t = self.tmp()
        if ftype in ("any", "uid"):
            eq = "_h_uid_eq(_ctx, " if ftype == "uid" else "_any_eq("
            if op in ("=", "!="):
                k = self.const(c.values[0])
                test = f"{eq}{expr}, {k})"
                return test if op == "=" else f"(({t} := {expr}) is not None and not {eq}{t}, {k}))"

            if op == "in":
                k = self.const(tuple(c.values))
                return f"(({t} := {expr}) is not None and any({eq}{t}, _v) for _v in {k}))"
            ftype = "str"
            expr = f"(None if ({t}x := {expr}) is None else str({t}x))"
        if ftype == "bool" and op in ("=", "!="):
            # A bool field may be unknown (None): then neither `= true` nor `= false` holds.
            want = "True" if vals[0] else "False"
            if op == "=":
                return f"({expr} is {want})"
            return f"(({t} := {expr}) is not None and {t} is not {want})"
        if op == "=":
            return f"({expr} == {self.const(vals[0])})"
        if op == "!=":
            return f"(({t} := {expr}) is not None and {t} != {self.const(vals[0])})"
        if op in ("in", "intersects"):
            return f"({expr} in {self.const(frozenset(vals))})"
        if op in _ORDER_OPS:
            if ftype != "int":
                raise ConditionError(
                    f"operator {op!r} needs a numeric field; {c.field} is text", c.pos
                )
            return f"(({t} := {expr}) is not None and {t} {op} {self.const(vals[0])})"
        if ftype != "str":
            raise ConditionError(f"operator {op!r} needs a text field; {c.field} is {ftype}", c.pos)
        if op == "pmatch":
            return f"_pmatch({expr}, {self.const(tuple(v.rstrip('/') or '/' for v in vals))})"
        if op == "contains":
            return f"(({t} := {expr}) is not None and {self.const(vals[0])} in {t})"
        if op == "icontains":
            return f"(({t} := {expr}) is not None and {self.const(vals[0].lower())} in {t}.lower())"
        if op == "startswith":
            return f"(({t} := {expr}) is not None and {t}.startswith({self.const(vals[0])}))"
        if op == "endswith":
            return f"(({t} := {expr}) is not None and {t}.endswith({self.const(vals[0])}))"
        if op in ("glob", "iglob"):
            flags = re.IGNORECASE if op == "iglob" else 0
            rx = re.compile(fnmatch.translate(vals[0]), flags)
            return f"(({t} := {expr}) is not None and {self.const(rx.match)}({t}) is not None)"
        if op == "regex":
            try:
                rx = re.compile(vals[0])
            except re.error as exc:
                raise ConditionError(
                    f"bad regex {vals[0]!r}: {exc}", c.value_pos or c.pos
                ) from None
            return f"(({t} := {expr}) is not None and {self.const(rx.fullmatch)}({t}) is not None)"
        if op in ("bcontains", "bstartswith"):
            try:
                needle = bytes.fromhex(vals[0])
            except ValueError:
                raise ConditionError(
                    f"{op} needs hex bytes, got {vals[0]!r}", c.value_pos or c.pos
                ) from None
            k = self.const(needle)
            test = f"{k} in {t}.encode()" if op == "bcontains" else f"{t}.encode().startswith({k})"
            return f"(({t} := {expr}) is not None and {test})"
        raise ConditionError(f"operator {op!r} is not supported", c.pos)

    def net_check(self, c: Check, op: str, expr: str) -> str:
        import ipaddress

        if op not in ("=", "!=", "in"):
            raise ConditionError(f"operator {op!r} cannot be used with {c.field}", c.pos)
        nets = []
        for v in c.values:
            try:
                nets.append(ipaddress.ip_network(v, strict=False))
            except ValueError:
                raise ConditionError(
                    f"{c.field} needs an address or CIDR network, got {v!r}", c.value_pos or c.pos
                ) from None
        k = self.const(tuple(nets))
        t = self.tmp()
        if op == "!=":
            return f"(({t} := {expr}) is not None and not _h_in_nets({t}, {k}))"
        return f"_h_in_nets({expr}, {k})"

    def list_check(self, c: Check, op: str, expr: str, vals: list[Any]) -> str:
        t = self.tmp()
        if op in ("=", "contains"):
            return f"(({t} := {expr}) is not None and {self.const(vals[0])} in {t})"
        if op in ("in", "intersects"):
            k = self.const(frozenset(vals))
            return f"(({t} := {expr}) is not None and not {k}.isdisjoint({t}))"
        if op == "!=":
            return f"(({t} := {expr}) is not None and {self.const(vals[0])} not in {t})"
        raise ConditionError(f"operator {op!r} cannot be used with list field {c.field}", c.pos)

    def convert(self, c: Check, ftype: str, v: str) -> Any:
        if ftype == "int" and c.op not in _STR_OPS:
            try:
                return int(v, 0)
            except ValueError:
                raise ConditionError(
                    f"{c.field} is a number; {v!r} is not", c.value_pos or c.pos
                ) from None
        if ftype == "bool":
            low = v.lower()
            if low not in ("true", "false") or c.op not in ("=", "==", "!="):
                raise ConditionError(
                    f"{c.field} is true/false: use `{c.field} = true` or `= false`",
                    c.value_pos or c.pos,
                )
            return low == "true"
        return v


# The cost of a check is its field's declared cost (fields/registry.py) plus the
# operator's. Used to run cheap checks first; checks have no side effects, so the
# order of `and`/`or` operands never changes the result, only the time.


def _cost(node: Node) -> float:
    if isinstance(node, Const):
        return 0.0
    if isinstance(node, Not):
        return _cost(node.item)
    if isinstance(node, BoolOp):
        return sum(_cost(i) for i in node.items)
    base = FIELDS[node.field].cost
    if node.op == "glob":
        base += 3.0
    return base


def optimize(node: Node) -> Node:
    """Flatten nested and/or (macros nest them) and order operands cheapest first."""
    if isinstance(node, Not):
        return Not(optimize(node.item))
    if not isinstance(node, BoolOp):
        return node
    items: list[Node] = []
    for i in node.items:
        i = optimize(i)
        if isinstance(i, BoolOp) and i.op == node.op:
            items.extend(i.items)
        else:
            items.append(i)
    items.sort(key=_cost)
    return BoolOp(node.op, items)


def compile_condition(node: Node, ctx: FieldContext | None = None) -> tuple[Matcher, str]:
    """Return the matcher and the generated source (kept for debugging). `ctx`: the
    state the field helpers read (a fresh, empty one when not given)."""
    g = _Gen(ctx)
    src = g.gen(optimize(node))
    fn: Matcher = eval(f"lambda e: bool({src})", g.ns)
    return fn, src

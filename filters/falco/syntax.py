"""Falco condition syntax: tokens -> a small AST, with positions for errors.

    cond  := or
    or    := and ('or' and)*
    and   := unary ('and' unary)*
    unary := 'not' unary | '(' cond ')' | check | MACRO
    check := FIELD OP VALUE | FIELD ('in'|'intersects'|'pmatch') '(' items ')' | FIELD 'exists'

Macros are expanded into the tree (their own parse errors are reported against
the macro), lists inside `( ... )` are expanded into their items. Positions are
1-based columns in the condition text being parsed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tracehound.filters.falco.fields import FIELDS, generic_field

COMPARE_OPS = frozenset({"=", "==", "!=", "<", "<=", ">", ">="})
WORD_OPS = frozenset(
    {
        "contains", "icontains", "bcontains", "startswith", "bstartswith", "endswith",
        "glob", "iglob", "regex", "exists",
    }
)  # fmt: skip
LIST_OPS = frozenset({"in", "intersects", "pmatch"})
SUPPORTED_OPS = COMPARE_OPS | WORD_OPS | LIST_OPS
# Falco syntax we recognise but do not implement: the rule is skipped with a warning.
UNSUPPORTED_OPS = frozenset({"bendswith"})
UNSUPPORTED_MODIFIERS = frozenset({"oneof", "anyof", "allof"})
# Field transformers (libsinsp filter/parser.cpp): `tolower(proc.name) = bash`.
TRANSFORMERS = frozenset({"tolower", "toupper", "b64", "basename", "len"})
UNSUPPORTED_TRANSFORMERS = frozenset({"join", "concat", "getopt"})


class ConditionError(Exception):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos

    def __str__(self) -> str:
        return f"column {self.pos}: {self.message}"


class UnsupportedError(ConditionError):
    """Valid Falco syntax that tracehound cannot evaluate (an unknown field, an
    operator or transformer we lack). Falco's skip-if-unknown-filter treats such a
    rule as skipped rather than broken; we do the same and warn with `what`."""

    def __init__(self, message: str, pos: int, what: str) -> None:
        super().__init__(message, pos)
        self.what = what


@dataclass(slots=True)
class Check:
    field: str
    arg: str | None
    op: str
    values: list[str]
    pos: int  # column of the field
    value_pos: int = 0
    transforms: tuple[str, ...] = ()  # applied innermost first: tolower(b64(f)) -> (b64, tolower)
    rhs_field: tuple[str, str | None] | None = None  # `val(other.field)`: compare two fields


@dataclass(slots=True)
class BoolOp:
    op: str  # "and" | "or"
    items: list[Node] = field(default_factory=list)


@dataclass(slots=True)
class Not:
    item: Node


@dataclass(slots=True)
class Const:
    value: bool


Node = Check | BoolOp | Not | Const

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<lp>\()
  | (?P<rp>\))
  | (?P<comma>,)
  | (?P<op>==|!=|<=|>=|=|<|>)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<word>[^\s(),=<>!"']+)
  | (?P<bad>.)
    """,
    re.VERBOSE,
)
_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)(?:\[([^\]]*)\])?$")


@dataclass(slots=True)
class Token:
    kind: str
    text: str
    pos: int


# Conditions are compiled to Python source: a bound on nesting keeps them compilable
# (CPython's parser stops near 200 levels) and a stack overflow out of the loader.
MAX_DEPTH = 64


def _is_index(arg: str) -> bool:
    """A field index pasted into generated source: ASCII digits only (str.isdigit
    accepts Unicode digits such as '٣', which are not Python literals)."""
    return arg.isascii() and arg.isdigit() and len(arg) <= 6


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "bad"
        if kind == "ws":
            continue
        tok = m.group()
        if kind == "bad":
            if tok in "\"'":
                raise ConditionError("unterminated quoted string", m.start() + 1)
            raise ConditionError(f"unexpected character {tok!r}", m.start() + 1)
        if kind == "str":
            tok = re.sub(r"\\(.)", r"\1", tok[1:-1])
        out.append(Token(kind, tok, m.start() + 1))
    out.append(Token("end", "", len(text) + 1))
    return out


MacroResolver = Callable[[str], Node | None]
ListResolver = Callable[[str], list[str] | None]


def parse_condition(text: str, macro: MacroResolver, lists: ListResolver) -> Node:
    return _Parser(text, macro, lists).parse()


class _Parser:
    def __init__(self, text: str, macro: MacroResolver, lists: ListResolver) -> None:
        self.toks = tokenize(text)
        self.i = 0
        self.macro = macro
        self.lists = lists
        self.open_parens: list[int] = []
        self.depth = 0  # parentheses and `not`s open here
        # Unsupported fields, operators and macros using them: raised only after the whole
        # condition parsed, so a syntax error is never hidden behind "unsupported".
        self.unsupported: list[UnsupportedError] = []

    def peek(self) -> Token:
        return self.toks[self.i]

    def take(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise ConditionError("empty condition", 1)
        node = self.parse_or()
        t = self.peek()
        if t.kind == "rp":
            raise ConditionError("unbalanced ')': no matching '('", t.pos)
        if t.kind != "end":
            raise ConditionError(f"expected 'and', 'or' or end of condition, got {t.text!r}", t.pos)
        if self.unsupported:
            raise self.unsupported[0]
        return node

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.peek().kind == "word" and self.peek().text == "or":
            self.take()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else BoolOp("or", items)

    def parse_and(self) -> Node:
        items = [self.parse_unary()]
        while self.peek().kind == "word" and self.peek().text == "and":
            self.take()
            items.append(self.parse_unary())
        return items[0] if len(items) == 1 else BoolOp("and", items)

    def parse_unary(self) -> Node:
        t = self.take()
        if t.kind == "word" and t.text == "not":
            self._nest(t)
            negated = Not(self.parse_unary())
            self.depth -= 1
            return negated
        if t.kind == "lp":
            self._nest(t)
            node = self.parse_or()
            self.depth -= 1
            close = self.take()
            if close.kind != "rp":
                if close.kind == "end":
                    raise ConditionError("unbalanced '(': missing ')'", t.pos)
                raise ConditionError(f"expected ')' or 'and'/'or', got {close.text!r}", close.pos)
            return node
        if t.kind == "end":
            raise ConditionError("condition ends where a check was expected", t.pos)
        if t.kind != "word" or t.text in ("and", "or"):
            raise ConditionError(f"expected a field, macro or '(', got {t.text!r}", t.pos)
        if t.text in TRANSFORMERS | UNSUPPORTED_TRANSFORMERS and self.peek().kind == "lp":
            field_tok, transforms = self.parse_transformed(t)
            return self.parse_check(field_tok, transforms)
        if "." in t.text or "[" in t.text:
            return self.parse_check(t)
        try:
            found = self.macro(t.text)
        except UnsupportedError as exc:
            self.unsupported.append(exc)
            return Const(False)
        if found is not None:
            return found
        if self.lists(t.text) is not None:
            raise ConditionError(
                f"{t.text!r} is a list; use it inside a check, as in `proc.name in ({t.text})`",
                t.pos,
            )
        raise ConditionError(f"unknown macro {t.text!r}", t.pos)

    def _nest(self, t: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConditionError(f"nested too deeply (more than {MAX_DEPTH} levels)", t.pos)

    def parse_transformed(self, t: Token) -> tuple[Token, tuple[str, ...]]:
        """`tolower(toupper(proc.name))` -> the field token and (toupper, tolower)."""
        if t.text in UNSUPPORTED_TRANSFORMERS:
            raise UnsupportedError(f"transformer {t.text}() is not supported", t.pos, f"{t.text}()")
        self.take()  # '('
        inner = self.take()
        if inner.kind != "word":
            raise ConditionError(f"a field expected inside {t.text}(...)", inner.pos)
        if inner.text in TRANSFORMERS | UNSUPPORTED_TRANSFORMERS and self.peek().kind == "lp":
            field_tok, transforms = self.parse_transformed(inner)
        else:
            field_tok, transforms = inner, ()
        close = self.take()
        if close.kind != "rp":
            raise ConditionError(f"unbalanced '(': {t.text}(...) is missing ')'", t.pos)
        return field_tok, (*transforms, t.text)

    def field_of(self, t: Token) -> tuple[str, str | None]:
        m = _FIELD.match(t.text)
        if not m:
            raise ConditionError(f"malformed field {t.text!r}", t.pos)
        name, arg = m.group(1), m.group(2)
        spec = FIELDS.get(name) or generic_field(name)
        if spec is None:
            hint = difflib.get_close_matches(name, FIELDS, n=1)
            more = f" (did you mean {hint[0]!r}?)" if hint else ""
            self.unsupported.append(
                UnsupportedError(f"unknown or unsupported field {name!r}{more}", t.pos, name)
            )
            return name, arg
        if spec.indexed:
            if arg is None and not spec.index_optional:
                raise ConditionError(f"field {name!r} needs an index, as in {name}[2]", t.pos)
            if arg is not None and spec.key_type == "int" and not _is_index(arg):
                raise ConditionError(f"index of {name!r} must be a number, got {arg!r}", t.pos)
        elif arg is not None:
            raise ConditionError(f"field {name!r} takes no [index]", t.pos)
        return name, arg

    def parse_check(self, t: Token, transforms: tuple[str, ...] = ()) -> Node:
        name, arg = self.field_of(t)
        op_tok = self.take()
        op = op_tok.text
        if op_tok.kind == "end":
            raise ConditionError(f"operator expected after {t.text!r}", op_tok.pos)
        if op_tok.kind == "word" and op in UNSUPPORTED_OPS:
            self.unsupported.append(
                UnsupportedError(f"operator {op!r} is not supported", op_tok.pos, op)
            )
            op = "="
        mod = self.peek().text if self.peek().kind == "word" else ""
        if op_tok.kind == "word" and mod in UNSUPPORTED_MODIFIERS:
            self.unsupported.append(
                UnsupportedError(f"operator modifier {op} {mod} is not supported", op_tok.pos, mod)
            )
            self.take()
        if op not in SUPPORTED_OPS or op_tok.kind not in ("op", "word"):
            raise ConditionError(
                f"expected an operator after {t.text!r}, got {op!r} "
                f"(supported: {' '.join(sorted(SUPPORTED_OPS))})",
                op_tok.pos,
            )
        if op == "exists":
            return Check(name, arg, op, [], t.pos, op_tok.pos, transforms)
        if op in LIST_OPS:
            items = self.parse_items(op_tok)
            return Check(name, arg, op, items, t.pos, op_tok.pos, transforms)
        v = self.take()
        if v.kind == "word" and v.text == "val" and self.peek().kind == "lp":
            self.take()
            other = self.take()
            if other.kind != "word" or self.take().kind != "rp":
                raise ConditionError("val() takes one field, as in val(proc.pname)", v.pos)
            rhs = self.field_of(other)
            return Check(name, arg, op, [], t.pos, v.pos, transforms, rhs)
        if v.kind == "op" and v.text in ("<", ">"):
            return Check(name, arg, op, [v.text], t.pos, v.pos, transforms)  # evt.dir = <
        if v.kind not in ("word", "str"):
            what = "end of condition" if v.kind == "end" else repr(v.text)
            raise ConditionError(f"value expected after {op!r}, got {what}", v.pos)
        return Check(name, arg, op, [v.text], t.pos, v.pos, transforms)

    def parse_items(self, op_tok: Token) -> list[str]:
        lp = self.take()
        if lp.kind != "lp":
            # Falco accepts a bare list name here too.
            named = self.lists(lp.text) if lp.kind == "word" else None
            if named is not None:
                return list(named)
            raise ConditionError(f"expected '(' after {op_tok.text!r}", lp.pos)
        items: list[str] = []
        while True:
            t = self.take()
            if t.kind == "rp":
                return items
            if t.kind == "comma":
                continue
            if t.kind == "end":
                raise ConditionError("unbalanced '(': list is missing ')'", lp.pos)
            if t.kind == "word":
                expanded = self.lists(t.text)
                items.extend(expanded if expanded is not None else [t.text])
            elif t.kind == "str":
                items.append(t.text)
            else:
                raise ConditionError(f"unexpected {t.text!r} in list", t.pos)


def event_types(node: Node) -> frozenset[str] | None:
    """The evt.type values a condition can match, or None for "any type"."""
    if isinstance(node, Check):
        if node.field == "evt.type" and node.op in ("=", "=="):
            return frozenset(node.values)
        if node.field == "evt.type" and node.op == "in":
            return frozenset(node.values)
        return None
    if isinstance(node, BoolOp):
        sets = [event_types(i) for i in node.items]
        if node.op == "and":
            known = [s for s in sets if s is not None]
            if not known:
                return None
            out = known[0]
            for s in known[1:]:
                out = out & s
            return out
        if any(s is None for s in sets):
            return None
        return frozenset().union(*[s for s in sets if s is not None])
    if isinstance(node, Const):
        return frozenset() if not node.value else None
    return None


def fields_of(node: Node) -> frozenset[str]:
    """Every field a condition reads."""
    if isinstance(node, Check):
        return frozenset({node.field, *([node.rhs_field[0]] if node.rhs_field else [])})
    if isinstance(node, BoolOp):
        return frozenset().union(*(fields_of(i) for i in node.items))
    if isinstance(node, Not):
        return fields_of(node.item)
    return frozenset()

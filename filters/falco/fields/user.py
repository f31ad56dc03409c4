"""user.* and group.*: the ids of the process, their names, the login user."""

from __future__ import annotations

from typing import Any

from tracehound.event import Event
from tracehound.filters.falco import procfs as PI
from tracehound.filters.falco.fields.context import FieldContext
from tracehound.filters.falco.fields.registry import CALL, arg, define, helper


@helper
def _h_user_name(e: Event) -> str:
    name = e.fields.get("user.name")
    if name is not None:
        return str(name)
    return "root" if e.proc.uid == 0 else "<NA>"  # libsinsp's values for an unknown user


@helper
def _h_loginname(ctx: FieldContext, e: Event) -> str | None:
    uid = PI.loginuid(e.proc)
    if uid is None:
        return None
    name = ctx.users.get(uid)
    if name is not None:
        return name
    return "root" if uid == 0 else "<NA>"


@helper
def _h_uid_eq(ctx: FieldContext, v: Any, text: str) -> bool:
    """`evt.arg.uid = www-data`: a uid field equals a number or the user's name."""
    if v is None:
        return False
    if str(v) == text:
        return True
    return isinstance(v, int) and ctx.users.get(v) == text


define("user.uid", "int", "e.proc.uid")
define("user.name", "str", "_h_user_name(e)", cost=CALL)
define("user.loginuid", "int", "_PI.loginuid(e.proc)", cost=CALL, proc=True)
define("user.loginname", "str", "_h_loginname(_ctx, e)", cost=CALL, proc=True)
define("group.gid", "int", "e.proc.gid")
define("group.name", "str", arg("group.name"))

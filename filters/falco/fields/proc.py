"""proc.* and thread.*: the process snapshot of the event, its ancestors, and what
/proc says about it (read once per snapshot, see ../procfs.py)."""

from __future__ import annotations

from tracehound.event import Event, ProcInfo
from tracehound.filters.falco import procfs as PI
from tracehound.filters.falco.fields.context import FieldContext
from tracehound.filters.falco.fields.registry import CALL, HELPERS, define, helper

HELPERS["_PI"] = PI
_P = "e.proc"
_PP = "e.proc.parent"


@helper
def _h_anc(e: Event, level: int) -> ProcInfo | None:
    return e.proc.ancestor(level)


@helper
def _h_anames(e: Event) -> list[str]:
    out = []
    p = e.proc.parent
    while p is not None:
        out.append(p.name)
        p = p.parent
    return out


@helper
def _h_exe_written(ctx: FieldContext, e: Event) -> bool:
    return e.proc.exepath in ctx.written


@helper
def _h_cwd(e: Event) -> str | None:
    cwd = e.proc.cwd
    if not cwd:
        return None
    return cwd if cwd.endswith("/") else cwd + "/"  # libsinsp keeps a trailing '/'


def _name_of(e: Event, pid: int | None) -> str | None:
    """The name of `pid`: from the event's process tree, else from /proc."""
    if pid is None:
        return None
    p = PI.process_by_pid(e.proc, pid)
    return p.name if p is not None else PI.comm_of(pid)


@helper
def _h_sname(e: Event) -> str | None:
    return _name_of(e, PI.sid(e.proc))


@helper
def _h_vpgid_name(e: Event) -> str | None:
    return _name_of(e, PI.vpgid(e.proc))


@helper
def _h_vpgid_exe(e: Event) -> str | None:
    g = PI.vpgid(e.proc)
    if g is None:
        return None
    p = PI.process_by_pid(e.proc, g)
    if p is not None:
        return p.argv[0] if p.argv else p.exepath
    return PI.exe_of(g)


@helper
def _h_is_vpgid_leader(e: Event) -> bool | None:
    g, v = PI.vpgid(e.proc), PI.vpid(e.proc)
    return None if g is None or v is None else g == v


@helper
def _h_is_sid_leader(e: Event) -> bool | None:
    s, v = PI.sid(e.proc), PI.vpid(e.proc)
    return None if s is None or v is None else s == v


@helper
def _h_duration(e: Event) -> int | None:
    start = PI.clone_ts(e.proc)
    return None if start is None else e.ts - start


@helper
def _h_pduration(e: Event) -> int | None:
    p = e.proc.parent
    start = PI.clone_ts(p) if p is not None else None
    return None if start is None else e.ts - start


@helper
def _h_env(e: Event) -> str | None:
    env = PI.env(e.proc)
    return None if env is None else " ".join(env)


@helper
def _h_env_var(e: Event, name: str) -> str | None:
    env = PI.env(e.proc)
    if env is None:
        return None
    prefix = name + "="
    for kv in env:
        if kv.startswith(prefix):
            return kv[len(prefix) :]
    return ""  # libsinsp returns an empty string for an unset variable


@helper
def _h_exe_ino(e: Event, what: str) -> int | None:
    st = PI.exe_stat(e.proc)
    if st is None:
        return None
    v = {"ino": st.st_ino, "ctime": st.st_ctime_ns, "mtime": st.st_mtime_ns}.get(what)
    if what == "ctime_duration":
        start = PI.clone_ts(e.proc)
        v = None if start is None else start - st.st_ctime_ns
    return v or None  # libsinsp: 0 means "not known"


@helper
def _h_from_memfd(e: Event) -> bool:
    exe = e.proc.exepath
    return exe.startswith("/memfd:") or exe.startswith("memfd:")


@helper
def _h_aexe(e: Event, level: int) -> str | None:
    a = e.proc.ancestor(level)
    if a is None:
        return None
    return a.argv[0] if a.argv else a.exepath


# From the snapshot: attribute reads.
define("thread.tid", "int", "e.tid")
define("proc.pid", "int", f"{_P}.pid")
define("proc.ppid", "int", f"{_P}.ppid")
define("proc.name", "str", f"{_P}.name")
define("proc.exe", "str", f"({_P}.argv[0] if {_P}.argv else {_P}.exepath)")
define("proc.exepath", "str", f"{_P}.exepath")
define("proc.cmdline", "str", f"{_P}.cmdline")
define("proc.args", "str", f"{_P}.args")
define("proc.cwd", "str", "_h_cwd(e)", cost=CALL)
define("proc.is_exe_upper_layer", "bool", "_h_exe_written(_ctx, e)", cost=CALL, written=True)
define("proc.is_exe_from_memfd", "bool", "_h_from_memfd(e)", cost=CALL)
define("proc.pname", "str", f"({_PP}.name if {_PP} is not None else None)")
define("proc.pexepath", "str", f"({_PP}.exepath if {_PP} is not None else None)")
define("proc.pexe", "str", f"({_PP}.argv[0] if {_PP} is not None and {_PP}.argv else None)")
define("proc.pcmdline", "str", f"({_PP}.cmdline if {_PP} is not None else None)")
# Ancestors: proc.aname[N] (N = 1 is the parent); proc.aname alone is any ancestor.
for _n, _attr, _t in (
    ("proc.aname", "name", "str"),
    ("proc.apid", "pid", "int"),
    ("proc.aexepath", "exepath", "str"),
    ("proc.acmdline", "cmdline", "str"),
):
    define(
        _n,
        _t,
        f"(_a.{_attr} if (_a := _h_anc(e, {{arg}})) is not None else None)",
        cost=CALL,
        indexed=True,
        index_optional=_n == "proc.aname",
        any_expr="_h_anames(e)",
    )
define("proc.aexe", "str", "_h_aexe(e, {arg})", cost=CALL, indexed=True)
# From /proc/<pid>: read at exec when a rule needs them, else on first use.
define("proc.tty", "int", "_PI.tty(e.proc)", cost=CALL, proc=True)
define("proc.vpid", "int", "_PI.vpid(e.proc)", cost=CALL, proc=True)
define("proc.pvpid", "int", f"(_PI.vpid({_PP}) if {_PP} is not None else None)", cost=CALL,
       proc=True)  # fmt: skip
define("proc.vpgid", "int", "_PI.vpgid(e.proc)", cost=CALL, proc=True)
define("proc.sid", "int", "_PI.sid(e.proc)", cost=CALL, proc=True)
define("proc.sname", "str", "_h_sname(e)", cost=CALL, proc=True)
define("proc.vpgid.name", "str", "_h_vpgid_name(e)", cost=CALL, proc=True)
define("proc.vpgid.exe", "str", "_h_vpgid_exe(e)", cost=CALL, proc=True)
define("proc.is_vpgid_leader", "bool", "_h_is_vpgid_leader(e)", cost=CALL, proc=True)
define("proc.is_sid_leader", "bool", "_h_is_sid_leader(e)", cost=CALL, proc=True)
define("proc.duration", "int", "_h_duration(e)", cost=CALL, proc=True, varies=True)
define("proc.ppid.duration", "int", "_h_pduration(e)", cost=CALL, proc=True, varies=True)
define("proc.pid.ts", "int", "_PI.clone_ts(e.proc)", cost=CALL, proc=True)
define("proc.env", "str", "_h_env_var(e, {key})", cost=CALL, proc=True, indexed=True,
       index_optional=True, any_expr="_h_env(e)", key_type="str")  # fmt: skip
define("proc.exe_ino", "int", "_h_exe_ino(e, 'ino')", cost=CALL, proc=True)
define("proc.exe_ino.ctime", "int", "_h_exe_ino(e, 'ctime')", cost=CALL, proc=True)
define("proc.exe_ino.mtime", "int", "_h_exe_ino(e, 'mtime')", cost=CALL, proc=True)
define("proc.exe_ino.ctime_duration_proc_start", "int", "_h_exe_ino(e, 'ctime_duration')",
       cost=CALL, proc=True)  # fmt: skip
for _n, _key in (("effective", "CapEff"), ("permitted", "CapPrm"), ("inheritable", "CapInh")):
    define(f"thread.cap_{_n}", "str", f"_PI.caps(e.proc, {_key!r})", cost=CALL, proc=True)

"""The kernel's answer beside the application's claim.

Arguments read at syscall entry are what the application claimed: another thread
can rewrite them before the kernel reads them, and a symlink or /proc/self/root
names a file under another name. With `tracer.verify` the capture core reads, at
the exit stop, what the kernel did (the file the new fd refers to, the socket's
peer; an exec's comm and exe are read at PTRACE_EVENT_EXEC anyway). These helpers
put the kernel's answer in the usual fields (fd.name, fd.rip, proc.name), keep the
claim beside it (evt.arg.name, evt.arg.addr, evt.arg.claim), and set
evt.claim_mismatch when the two are different things, which a default rule alerts on.
"""

from __future__ import annotations

import errno
import os
import struct
from typing import Any

from tracehound.agent.tracer.specs import T_FDSTAT, T_FDTRUTH, T_PEER
from tracehound.agent.tracer.wire import Raw

MISMATCH = "evt.claim_mismatch"
CLAIM = "evt.arg.claim"
_FDSTAT = struct.Struct("<4Qii")  # FdStat in _core.c
_EINPROGRESS = -errno.EINPROGRESS


def _name_the_file(r: Raw, fields: dict[str, Any]) -> tuple[str, tuple[int, ...]] | None:
    """fd.name (and fd.dev, fd.ino) from the core's T_FDTRUTH and T_FDSTAT, the claim
    kept in evt.arg.name when it reads otherwise. Returns the claim and the FdStat."""
    link = r.blob(T_FDTRUTH)
    st = r.blob(T_FDSTAT)
    if link is None or st is None or len(st) < _FDSTAT.size:
        return None
    claim = fields["fd.name"]
    name = link.decode("utf-8", "surrogateescape")
    stat = _FDSTAT.unpack_from(st)
    dev, ino, _, _, err, _ = stat
    if not err:
        fields["fd.dev"], fields["fd.ino"] = dev, ino
    fields["fd.name"] = name
    if name != claim:
        fields["evt.arg.name"] = claim
    return claim, stat


def opened(r: Raw, fields: dict[str, Any]) -> None:
    """An open with its result: fd.name becomes the file the fd refers to."""
    res = r.res
    fields["fd.num"] = res
    if res < 0:
        return
    named = _name_the_file(r, fields)
    if named is None:
        return
    claim, (dev, ino, cdev, cino, err, cerr) = named
    # The claim names another file (or none) than the one opened: a swap. A claim
    # that is a symlink or another name of the same file is no mismatch.
    gone = cerr in (errno.ENOENT, errno.ENOTDIR)
    if not err and (gone or (cerr == 0 and (cdev, cino) != (dev, ino))):
        fields[MISMATCH] = True
        fields[CLAIM] = claim


def led_to(r: Raw, fields: dict[str, Any]) -> None:
    """An open without its result (no ptrace): fd.name becomes what the claim led to
    when the agent looked, as the notification was answered (_core.c,
    resolve_at_entry). Nothing to compare it with: no mismatch is flagged."""
    _name_the_file(r, fields)


# What only the exit tells of an open: its result. (fd.name, fd.dev and fd.ino, the
# file the result refers to, are known at the entry once the claim is trusted.)
RESULT_FIELDS = frozenset({"evt.res", "evt.rawres", "evt.failed", "fd.num"})


class ResultUnknown(dict[str, Any]):
    """An open's fields as its entry alone shows them: reading a result field raises,
    so a rule whose answer could depend on the result counts as "could fire"
    (RuleEngine.could_fire), and one whose answer does not, as not."""

    def _check(self, key: object) -> None:
        if key in RESULT_FIELDS:
            raise LookupError(f"{key}: the result is not known at the entry")

    def __getitem__(self, key: str) -> Any:
        self._check(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._check(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._check(key)
        return super().__contains__(key)

    def copy(self) -> ResultUnknown:
        return ResultUnknown(self)


def entry_only(fields: dict[str, Any]) -> ResultUnknown:
    """`fields` of an open without its result (see ResultUnknown)."""
    return ResultUnknown((k, v) for k, v in fields.items() if k not in RESULT_FIELDS)


def peer_bytes(r: Raw) -> bytes | None:
    """The socket's peer (sockaddr) read at the exit of a connect, if it has one."""
    raw = r.blob(T_PEER)
    if raw is None or len(raw) < 4 or struct.unpack_from("<i", raw)[0]:
        return None  # not verified, or no peer (a TCP connect still in progress)
    return raw[4:]


def connected(r: Raw, fields: dict[str, Any], peer: dict[str, Any]) -> None:
    """A connect with its result: the address is the socket's peer (getpeername),
    as decoded from peer_bytes()."""
    if "fd.rip" not in peer or r.res not in (0, _EINPROGRESS):
        return  # failed, unverified, or not an IP socket: the claim stays
    claim = fields.get("fd.name")
    if (peer["fd.rip"], peer["fd.rport"]) != (fields.get("fd.rip"), fields.get("fd.rport")):
        fields[MISMATCH] = True
        fields[CLAIM] = claim
    if claim is not None and claim != peer["fd.name"]:
        fields["evt.arg.addr"] = claim
    fields.update(peer)
    fields["fd.sip"], fields["fd.sport"] = peer["fd.rip"], peer["fd.rport"]


def executed(fields: dict[str, Any], comm: str, exepath: str) -> str:
    """An exec confirmed by the kernel: proc.name is its comm (the basename of the
    file it really executed). Returns the name; flags a claim that named another."""
    claim = fields.get("fd.name", "")
    claimed = fields.pop("comm", None) or os.path.basename(claim)
    if not comm:
        return claimed
    if claimed[:15] != comm:
        fields[MISMATCH] = True
        fields[CLAIM] = claim
        if exepath:
            fields["fd.name"] = exepath
    return comm

"""The capture core's wire contract: record head, blob head, record kinds and flags,
spec opcodes and flags, blob tags. The C core defines them (_core.c); the Python side
(wire.py, specs.py) must agree, checked here against the C source and the built core."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from tracehound.agent.tracer import _core, guard, specs, wire

CORE_C = Path(__file__).resolve().parents[3] / "agent" / "tracer" / "_core.c"


def c_constants() -> dict[str, int]:
    """Every NAME = value in an enum, and every #define NAME number, of _core.c."""
    src = CORE_C.read_text()
    out: dict[str, int] = {}
    for body in re.findall(r"enum\s*\{(.*?)\};", src, re.S):
        body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
        for name, value in re.findall(r"(\w+)\s*=\s*(0x[0-9a-fA-F]+|\d+)", body):
            out[name] = int(value, 0)
    for name, value in re.findall(r"#define\s+(\w+)\s+(0x[0-9a-fA-F]+|\d+)\b", src):
        out[name] = int(value, 0)
    return out


C = c_constants()

_OPS = ["STR", "PATH", "FDPATH", "SOCKADDR", "SOCKINFO", "ARGV", "RAW", "SOCKADDR_PLEN", "IDS"]
_TAGS = [
    *("STR", "BASE", "FDPATH", "SOCKADDR", "SOCKINFO", "ARGV", "RAW", "EXE", "COMM"),
    *("CMDLINE", "CWD", "IDS", "STATUS", "STAT", "LOGINUID", "ENVIRON", "EXESTAT"),
    *("FDTRUTH", "FDSTAT", "PEER", "CLAIMSTAT", "ENTRYKEY"),
]
# Python name -> C name.
PAIRS = {
    **{f"specs.{n}": f"OP_{n}" for n in _OPS},
    "specs.VERIFY_FD": "OP_VERIFY_FD",
    "specs.VERIFY_PEER": "OP_VERIFY_PEER",
    "specs.AT_EXIT": "OP_EXIT",
    "specs.CAPTURE": "SPEC_CAPTURE",
    "specs.EXEC": "SPEC_EXEC",
    "specs.TEACHES": "SPEC_TEACHES",
    "specs.OPEN_FLAGS1": "SPEC_OPEN_FLAGS1",
    "specs.OPEN_FLAGS2": "SPEC_OPEN_FLAGS2",
    "specs.DISTRUST": "SPEC_DISTRUST",
    "specs.CONNECT": "SPEC_CONNECT",
    **{f"specs.T_{n}": f"T_{n}" for n in _TAGS},
    "guard.OP_GUARD": "OP_GUARD",
    "guard.GUARD_KILL": "GUARD_KILL",
    "guard.GUARD_PID": "GUARD_PID",
    "guard.GUARD_PIDFD": "GUARD_PIDFD",
    "guard.SPEC_DENY": "SPEC_DENY",
    "guard.SPEC_UNTRACED": "SPEC_UNTRACED",
    "guard.SPEC_SETID": "SPEC_SETID",
    "wire.KIND_SYSCALL": "K_SYSCALL",
    "wire.KIND_NEW_TASK": "K_NEW_TASK",
    "wire.KIND_EXEC": "K_EXEC",
    "wire.KIND_EXIT": "K_EXIT",
    "wire.FLAG_RESULT": "RF_RESULT",
}


@pytest.mark.parametrize(("py", "c"), PAIRS.items(), ids=list(PAIRS))
def test_python_and_c_agree_on_each_constant(py: str, c: str) -> None:
    module, name = py.split(".")
    assert c in C, f"{c} is no longer in _core.c"
    assert getattr({"specs": specs, "wire": wire, "guard": guard}[module], name) == C[c]


def test_every_c_tag_and_opcode_is_known_to_python() -> None:
    c_tags = {n for n in C if n.startswith("T_")}
    c_ops = {n for n in C if n.startswith("OP_")}
    assert c_tags == {c for c in PAIRS.values() if c.startswith("T_")}
    assert c_ops == {c for c in PAIRS.values() if c.startswith("OP_")}
    assert len(specs.OPS) and max(len(ops) for ops in specs.OPS.values()) <= C["SPEC_OPS"]


def test_head_sizes_match_the_built_core() -> None:
    assert wire.HEAD_SIZE == _core.RECORD_HEAD_SIZE
    assert struct.calcsize("<BBHI") == _core.BLOB_HEAD_SIZE


def _record(kind: int, blobs: list[tuple[int, int, bytes]], **head: int) -> bytes:
    body = b"".join(struct.pack("<BBHI", t, a, 0, len(b)) + b for t, a, b in blobs)
    args = head.get("args", (0,) * 6)
    raw = struct.pack(
        "<IBBHiIiQ6Qq", wire.HEAD_SIZE + len(body), kind, head.get("flags", 0), len(blobs),
        head.get("tid", 7), head.get("arch", 0xC000003E), head.get("nr", 257),
        head.get("ts", 123), *args, head.get("res", -2),
    )  # fmt: skip
    return raw + body


CASES = [
    ("no blobs", [], {}),
    ("one path", [(specs.T_STR, 1, b"/etc/passwd")], {"flags": wire.FLAG_RESULT}),
    ("two blobs, empty one", [(specs.T_STR, 0, b"a"), (specs.T_BASE, 0, b"")], {"res": 3}),
    ("argv", [(specs.T_ARGV, 1, b"sh\0-c\0true\0")], {"nr": 59, "tid": 2**31 - 1}),
]


@pytest.mark.parametrize(("name", "blobs", "head"), CASES, ids=[c[0] for c in CASES])
def test_parse_reads_what_was_written(name: str, blobs: list, head: dict) -> None:
    data = _record(wire.KIND_SYSCALL, blobs, **head) + _record(wire.KIND_EXIT, [])
    first, second = list(wire.parse(data))
    assert first.kind == wire.KIND_SYSCALL and second.kind == wire.KIND_EXIT
    assert first.tid == head.get("tid", 7) and first.nr == head.get("nr", 257)
    assert first.res == head.get("res", -2) and first.has_result == bool(head.get("flags"))
    assert first.blobs == {(t, a): b for t, a, b in blobs}

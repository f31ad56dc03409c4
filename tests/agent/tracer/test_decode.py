"""The decoders, one table row per case: a record as the core writes it (raw arguments
and blobs) in, the Falco fields out. The end-to-end tests (test_parity, the strace
oracle) trace real programs; this pins each decoder's own rules."""

from __future__ import annotations

import socket
import struct
from typing import Any

import pytest

from tracehound.agent.tracer._ptrace import AUDIT_ARCH_X86_64
from tracehound.agent.tracer.decode import DECODERS, generic
from tracehound.agent.tracer.specs import (
    OPS,
    T_ARGV,
    T_BASE,
    T_FDPATH,
    T_RAW,
    T_SOCKADDR,
    T_STR,
)
from tracehound.agent.tracer.wire import Raw

CWD = 2**64 - 100  # AT_FDCWD as a raw register value


def raw(args: tuple[int, ...] = (), blobs: dict[tuple[int, int], bytes] | None = None) -> Raw:
    padded = (*args, *(0,) * (6 - len(args)))
    return Raw(1, 0, 9, AUDIT_ARCH_X86_64, 0, 0, padded, 0, blobs or {})


def inet(ip: str, port: int) -> bytes:
    return struct.pack("<H", socket.AF_INET) + struct.pack(">H", port) + socket.inet_aton(ip)


CASES: list[tuple[str, str, Raw, dict[str, Any]]] = [
    (
        "absolute path",
        "openat",
        raw((CWD, 0, 0o1101), {(T_STR, 1): b"/etc//passwd"}),
        {"fd.name": "/etc/passwd", "evt.arg.flags": 0o1101},
    ),
    (
        "relative to the cwd",
        "openat",
        raw((CWD, 0, 0), {(T_STR, 1): b"a/../b", (T_BASE, 1): b"/srv"}),
        {"fd.name": "/srv/b", "evt.arg.flags": 0},
    ),
    (
        "relative to a dirfd not read",
        "openat",
        raw((5, 0, 0), {(T_STR, 1): b"x"}),
        {"fd.name": "<fd 5>/x"},
    ),
    ("unreadable path", "open", raw((0, 0o2)), {"fd.name": "<unreadable>", "evt.arg.flags": 2}),
    (
        "creat is a write",
        "creat",
        raw((0,), {(T_STR, 0): b"/tmp/f"}),
        {"fd.name": "/tmp/f", "evt.arg.flags": 0o1101},
    ),
    (
        "openat2 flags from open_how",
        "openat2",
        raw((CWD, 0, 0, 24), {(T_STR, 1): b"/x", (T_RAW, 2): struct.pack("<Q", 0o100001)}),
        {"fd.name": "/x", "evt.arg.flags": 0o100001},
    ),
    (
        "execve argv",
        "execve",
        raw((0, 0), {(T_STR, 0): b"/bin/sh", (T_ARGV, 1): b"sh\0-c\0id\0"}),
        {"fd.name": "/bin/sh", "argv": ("sh", "-c", "id")},
    ),
    (
        "connect to IPv4",
        "connect",
        raw((3, 0, 16), {(T_SOCKADDR, 1): inet("10.0.0.9", 443)}),
        {"fd.name": "10.0.0.9:443", "fd.sip": "10.0.0.9", "fd.sport": 443, "evt.arg.fd": 3},
    ),
    (
        "connect to a unix socket",
        "connect",
        raw((4, 0, 12), {(T_SOCKADDR, 1): struct.pack("<H", socket.AF_UNIX) + b"/run/x\0"}),
        {"fd.name": "/run/x", "fd.sockfamily": "unix"},
    ),
    (
        "abstract unix socket",
        "connect",
        raw((4, 0, 8), {(T_SOCKADDR, 1): struct.pack("<H", socket.AF_UNIX) + b"\0name"}),
        {"fd.name": "@name"},
    ),
    (
        "rename",
        "renameat2",
        raw((CWD, 0, CWD, 0), {(T_STR, 1): b"/a", (T_STR, 3): b"/b"}),
        {"fd.name": "/a", "evt.arg.oldpath": "/a", "evt.arg.newpath": "/b"},
    ),
    (
        "symlink target kept as written",
        "symlink",
        raw((0, 0), {(T_STR, 0): b"../x", (T_STR, 1): b"/tmp/l"}),
        {"fd.name": "/tmp/l", "evt.arg.target": "../x"},
    ),
    (
        "fchmod names the fd's file",
        "fchmod",
        raw((7, 0o4755), {(T_FDPATH, 0): b"/usr/bin/s"}),
        {"fd.name": "/usr/bin/s", "evt.arg.mode": "0o4755"},
    ),
    ("setuid -1 is a C int", "setuid", raw((2**32 - 1,)), {"evt.arg.uid": -1}),
    ("setresuid", "setresuid", raw((0, 1000, 5)), {"evt.arg.ruid": 0, "evt.arg.uid": 1000}),
    (
        "ptrace request by name",
        "ptrace",
        raw((0x4206, 42)),
        {"evt.arg.request": "PTRACE_SEIZE", "evt.arg.pid": 42},
    ),
    ("ptrace request unknown", "ptrace", raw((0x9999, 1)), {"evt.arg.request": "0x9999"}),
    (
        "memfd name",
        "memfd_create",
        raw((0, 1), {(T_STR, 0): b"payload"}),
        {"fd.name": "memfd:payload", "evt.arg.name": "payload"},
    ),
    (
        "dup2 of a file onto stdout",
        "dup2",
        raw((5, 1), {(T_FDPATH, 0): b"/tmp/out"}),
        {"fd.name": "/tmp/out", "fd.type": "file"},
    ),
]


@pytest.mark.parametrize(("name", "syscall", "record", "expected"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_decoder(name: str, syscall: str, record: Raw, expected: dict[str, Any]) -> None:
    fields = DECODERS[syscall](record)
    assert {k: fields.get(k) for k in expected} == expected, fields


def test_every_syscall_the_core_reads_has_a_decoder() -> None:
    """A read spec without a decoder would be read at every stop and then thrown away."""
    missing = sorted(set(OPS) - set(DECODERS))
    assert not missing, missing


def test_generic_decoding_keeps_the_raw_arguments() -> None:
    fields = generic(raw((1, 2, 3)))
    assert fields.get("evt.args") is not None

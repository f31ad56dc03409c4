"""The BPF program and the syscall tables it is built from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tracehound.agent.tracer import _ptrace as P
from tracehound.agent.tracer.profiles import PROFILES
from tracehound.agent.tracer.seccomp import (
    DUP_ONTO_STDIO,
    OPEN_FOR_WRITE,
    RET_ALLOW,
    RET_TRACE,
    SHARED_OR_FILE_MAPS,
    build_program,
    simulate,
)
from tracehound.agent.tracer.specs import REMAPS
from tracehound.agent.tracer.syscalls import TABLES, canonical

HEADERS = Path("/usr/include/x86_64-linux-gnu/asm")
X86, I386 = P.AUDIT_ARCH_X86_64, P.AUDIT_ARCH_I386


@pytest.fixture(scope="module")
def balanced() -> list[tuple[int, int, int, int]]:
    return build_program(PROFILES["balanced"], DUP_ONTO_STDIO)


def _header_table(name: str) -> dict[int, str]:
    src = (HEADERS / name).read_text()
    found = re.findall(r"#define __NR_(\w+)\s+\(?(?:__X32_SYSCALL_BIT \+ )?(\d+)", src)
    return {int(nr): canonical(n) for n, nr in found}


@pytest.mark.parametrize(
    ("arch", "header"),
    [("x86_64", "unistd_64.h"), ("i386", "unistd_32.h"), ("x32", "unistd_x32.h")],
)
def test_tables_match_the_kernel_headers_for_every_profiled_syscall(arch: str, header: str) -> None:
    if not (HEADERS / header).exists():
        pytest.fail(f"{header} missing: linux-libc-dev is installed with gcc")
    headers = _header_table(header)
    ours = TABLES[arch]
    for name in PROFILES["aggressive"]:
        expected = {nr for nr, n in headers.items() if n == name}
        if not expected:
            continue  # newer than these headers (fchmodat2 with Debian 12's)
        got = {nr for nr, n in ours.items() if n == name}
        assert got == expected, f"{arch} {name}: ours {got}, headers {expected}"


def test_every_traced_syscall_stops_and_others_run(balanced) -> None:
    for nr, name in TABLES["x86_64"].items():
        want = RET_TRACE if name in PROFILES["balanced"] - set(DUP_ONTO_STDIO) else RET_ALLOW
        if name in DUP_ONTO_STDIO:
            continue
        assert simulate(balanced, X86, nr) == want, name
    for nr, name in TABLES["i386"].items():
        if name in DUP_ONTO_STDIO:
            continue
        want = RET_TRACE if name in PROFILES["balanced"] else RET_ALLOW
        assert simulate(balanced, I386, nr) == want, f"i386 {name}"


def test_unknown_numbers_and_architectures_are_traced(balanced) -> None:
    assert simulate(balanced, X86, 1000) == RET_TRACE
    assert simulate(balanced, X86, 0xFFFFFFFF) == RET_TRACE
    assert simulate(balanced, X86, 335) == RET_TRACE  # a hole in the x86_64 table
    assert simulate(balanced, 0x12345678, 0) == RET_TRACE  # an architecture we do not know
    assert simulate(balanced, X86, P.X32_SYSCALL_BIT | 59) == RET_TRACE  # 64-bit-only in x32
    assert simulate(balanced, X86, P.X32_SYSCALL_BIT | 520) == RET_TRACE  # x32 execve
    assert simulate(balanced, X86, P.X32_SYSCALL_BIT | 0) == RET_ALLOW  # x32 read


def test_dup_onto_stdio_only(balanced) -> None:
    dup2 = next(nr for nr, n in TABLES["x86_64"].items() if n == "dup2")
    assert simulate(balanced, X86, dup2, (7, 1)) == RET_TRACE
    assert simulate(balanced, X86, dup2, (7, 2)) == RET_TRACE
    assert simulate(balanced, X86, dup2, (7, 9)) == RET_ALLOW


def test_minimal_profile_opens_for_write_only() -> None:
    prog = build_program(PROFILES["minimal"], DUP_ONTO_STDIO | OPEN_FOR_WRITE)
    openat, open_ = 257, 2
    assert simulate(prog, X86, openat, (0, 0, 0o0)) == RET_ALLOW  # O_RDONLY
    assert simulate(prog, X86, openat, (0, 0, 0o2000000)) == RET_ALLOW  # O_CLOEXEC
    for flags in (0o1, 0o2, 0o100, 0o1000):  # WRONLY, RDWR, CREAT, TRUNC
        assert simulate(prog, X86, openat, (0, 0, flags)) == RET_TRACE
    assert simulate(prog, X86, open_, (0, 0o101)) == RET_TRACE
    assert simulate(prog, I386, 5, (0, 0o0)) == RET_ALLOW  # i386 open, read-only


def test_only_mappings_another_process_can_write_stop() -> None:
    """With specs.REMAPS traced for the core (alerts only, notify_exits), an mmap stops
    unless it is private and anonymous (malloc's, a thread's stack); mremap, shmat,
    i386's ipc and old_mmap (its flags are in memory) always do."""
    prog = build_program(PROFILES["balanced"] | REMAPS, DUP_ONTO_STDIO | SHARED_OR_FILE_MAPS)
    aarch64 = P.AUDIT_ARCH_AARCH64
    for arch, nr in ((X86, 9), (I386, 192), (aarch64, 222)):  # mmap, mmap2, mmap
        for flags in (0x22, 0x22 | 0x10, 0x22 | 0x4000 | 0x20000):  # +FIXED, +NORESERVE|STACK
            assert simulate(prog, arch, nr, (0, 4096, 3, flags, -1, 0)) == RET_ALLOW, (nr, flags)
        for flags in (0x21, 0x23, 0x02, 0x12, 0x01, 0x28):  # shared, validate, file, droppable
            assert simulate(prog, arch, nr, (0, 4096, 3, flags, 5, 0)) == RET_TRACE, (nr, flags)
    for arch, nr in ((X86, 25), (X86, 30), (X86, 216), (I386, 90), (I386, 117), (aarch64, 196)):
        assert simulate(prog, arch, nr, (0, 0, 0, 0x22, 0, 0)) == RET_TRACE, nr
    assert simulate(build_program(PROFILES["balanced"], DUP_ONTO_STDIO), X86, 9) == RET_ALLOW


def test_program_fits_the_kernel_limit() -> None:
    assert len(build_program(PROFILES["aggressive"], DUP_ONTO_STDIO)) < 4096

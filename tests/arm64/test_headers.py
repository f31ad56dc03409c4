"""Graviton: tracehound's aarch64 syscall table and open-flag bits, checked against the
aarch64 kernel headers (Debian's linux-libc-dev-arm64-cross), and the capture core
cross-compiled for aarch64 (gcc-aarch64-linux-gnu).

Values are read by compiling with the cross compiler (the constants land in the
assembly as numbers), so the headers' own arithmetic and aliases are evaluated by
the compiler that builds for arm64, not by a parser of ours.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

from tracehound.agent.tracer._ptrace import AUDIT_ARCH_AARCH64, AUDIT_ARCH_X86_64
from tracehound.agent.tracer.decode import DECODERS
from tracehound.agent.tracer.flags import canonical_open_flags
from tracehound.agent.tracer.profiles import PROFILES
from tracehound.agent.tracer.syscalls import AARCH64, canonical
from tracehound.agent.tracer.wire import Raw
from tracehound.openflags import format_open_flags

CC = "aarch64-linux-gnu-gcc"
LIBC_HEADERS = "/usr/aarch64-linux-gnu/include/fcntl.h"
CORE = Path(__file__).resolve().parents[2] / "agent" / "tracer" / "_core.c"
# setup.py's Extension sources
CORE_SOURCES = [CORE, CORE.with_name("pathwatch.c"), CORE.with_name("keyhash.c")]
OPEN_FLAGS = (
    "O_CREAT", "O_EXCL", "O_NOCTTY", "O_TRUNC", "O_APPEND", "O_NONBLOCK", "O_DSYNC",
    "O_DIRECT", "O_LARGEFILE", "O_DIRECTORY", "O_NOFOLLOW", "O_NOATIME", "O_CLOEXEC",
    "O_PATH", "O_SYNC", "O_TMPFILE",
)  # fmt: skip


@pytest.fixture(scope="module")
def cc() -> str:
    if shutil.which(CC) is None:
        pytest.skip(f"{CC} not installed (apt-get install gcc-aarch64-linux-gnu)")
    # Without its own libc headers the cross compiler falls back to the host's
    # /usr/include (x86 values: O_DIRECT would read as O_DIRECTORY).
    if not Path(LIBC_HEADERS).exists():
        pytest.skip(f"{LIBC_HEADERS} missing (apt-get install libc6-dev-arm64-cross)")
    return CC


def constants(cc: str, include: str, names: list[str], tmp: Path) -> dict[str, int]:
    """name -> value as the aarch64 compiler sees `include` define it."""
    src = tmp / "consts.c"
    body = "".join(f"const long long v_{n} = {n};\n" for n in names)
    src.write_text(f"#define _GNU_SOURCE\n#include <{include}>\n{body}")
    asm = subprocess.run(
        [cc, "-S", "-O0", "-o", "-", str(src)], capture_output=True, text=True, check=True
    ).stdout
    found = re.findall(r"^v_(\w+):\s*\n\s*\.(xword|zero)\s+(-?\d+)", asm, re.M)
    return {name: int(v) if kind == "xword" else 0 for name, kind, v in found}


def test_the_syscall_table_matches_the_aarch64_headers(cc: str, tmp_path: Path) -> None:
    macros = subprocess.run(
        [cc, "-E", "-dM", "-"], input="#include <asm/unistd.h>\n", capture_output=True,
        text=True, check=True,
    ).stdout  # fmt: skip
    names = sorted(
        set(re.findall(r"^#define (__NR_\w+) ", macros, re.M))
        - {"__NR_syscalls", "__NR_arch_specific_syscall"}  # a count and a range start
    )
    values = constants(cc, "asm/unistd.h", names, tmp_path)
    assert len(values) == len(names) > 290
    wrong = {
        n: (nr, AARCH64.get(nr))
        for n, nr in values.items()
        if AARCH64.get(nr) != canonical(n.removeprefix("__NR_"))
    }
    assert wrong == {}, f"header name: (number, our name) {wrong}"
    # Every syscall a profile traces that exists on aarch64 has its number.
    on_arm = {canonical(n.removeprefix("__NR_")) for n in values}
    for profile, wanted in PROFILES.items():
        assert {n for n in wanted if n in on_arm} <= set(AARCH64.values()), profile


def test_open_flag_bits_match_the_aarch64_headers(cc: str, tmp_path: Path) -> None:
    values = constants(cc, "fcntl.h", list(OPEN_FLAGS), tmp_path)
    assert set(values) == set(OPEN_FLAGS)
    # O_LARGEFILE is 0 in a 64-bit userland's fcntl.h; the kernel's value is in asm.
    kernel = constants(cc, "asm/fcntl.h", ["O_LARGEFILE", "O_DIRECTORY", "O_DIRECT"], tmp_path)
    values["O_LARGEFILE"] = kernel["O_LARGEFILE"]
    for name, bit in values.items():
        got = format_open_flags(canonical_open_flags(bit | 1, AUDIT_ARCH_AARCH64)).split("|")
        assert got == ["O_WRONLY", name], f"{name} = {oct(bit)} decodes as {got}"
    # The four bits arm64 moved decode differently on x86_64: the tables are per arch.
    x86 = canonical_open_flags(kernel["O_DIRECTORY"], AUDIT_ARCH_X86_64)
    assert format_open_flags(x86) == "O_RDONLY|O_DIRECT"


def test_openat_records_from_arm64_tasks_decode_arm64_flags() -> None:
    dir_nofollow = 0o40000 | 0o100000  # O_DIRECTORY|O_NOFOLLOW on arm64
    args = (-100 & (2**64 - 1), 0, dir_nofollow, 0, 0, 0)  # AT_FDCWD, path, flags
    raw = Raw(0, 0, 1, AUDIT_ARCH_AARCH64, 56, 0, args, 0, {})
    fields = DECODERS["openat"](raw)
    # Events keep the int, in the generic layout; names come at output.
    assert format_open_flags(fields["evt.arg.flags"]) == "O_RDONLY|O_DIRECTORY|O_NOFOLLOW"


@pytest.mark.parametrize("source", CORE_SOURCES, ids=lambda p: p.name)
def test_the_capture_core_cross_compiles_for_aarch64(cc: str, tmp_path: Path, source: Path) -> None:
    include = sysconfig.get_paths()["include"]
    obj = tmp_path / source.with_suffix(".o").name
    done = subprocess.run(
        [cc, "-c", "-O2", "-fPIC", "-Wall", "-Werror", f"-I{include}", str(source), "-o", str(obj)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    header = obj.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64

"""Open flags per architecture: aarch64 moves four bits; the decoder converts them to
the generic layout events carry. Checked against both kernels' headers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tracehound.agent.tracer._ptrace import AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64
from tracehound.agent.tracer.flags import canonical_open_flags
from tracehound.openflags import format_open_flags

GENERIC_H = Path("/usr/include/asm-generic/fcntl.h")
# Debian's linux-libc-dev-arm64-cross (scripts/test installs it where it can).
ARM64_H = Path("/usr/aarch64-linux-gnu/include/asm/fcntl.h")


def header_values(path: Path) -> dict[str, int]:
    if not path.exists():  # optional in scripts/test, as for tests/arm64
        pytest.skip(f"{path} is missing (apt-get install linux-libc-dev-arm64-cross)")
    found = re.findall(r"#define\s+(O_[A-Z]+)\s+(0[0-7]+)\b", path.read_text())
    return {name: int(value, 8) for name, value in found}


def test_aarch64_flags_become_the_generic_ones() -> None:
    generic, arm64 = header_values(GENERIC_H), header_values(ARM64_H)
    assert set(arm64) == {"O_DIRECTORY", "O_NOFOLLOW", "O_DIRECT", "O_LARGEFILE"}
    for name, native in arm64.items():
        assert native != generic[name], name  # the bits that really differ
        assert canonical_open_flags(native, AUDIT_ARCH_AARCH64) == generic[name], name
        # with the access mode and a flag both layouts share
        both = native | generic["O_WRONLY"] | generic["O_CREAT"]
        assert format_open_flags(canonical_open_flags(both, AUDIT_ARCH_AARCH64)) == (
            f"O_WRONLY|O_CREAT|{name}"
        )


@pytest.mark.parametrize("arch", [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386])
def test_x86_flags_are_already_generic(arch: int) -> None:
    for name, value in header_values(GENERIC_H).items():
        assert canonical_open_flags(value, arch) == value, name


def test_aarch64_directory_open_reads_as_a_directory() -> None:
    # openat(AT_FDCWD, "/etc", O_RDONLY|O_DIRECTORY|O_CLOEXEC) as an arm64 libc passes it
    raw = 0o40000 | 0o2000000
    assert format_open_flags(canonical_open_flags(raw, AUDIT_ARCH_AARCH64)) == (
        "O_RDONLY|O_DIRECTORY|O_CLOEXEC"
    )
    assert format_open_flags(raw) == "O_RDONLY|O_DIRECT|O_CLOEXEC"  # what x86 values would say

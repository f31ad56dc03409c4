"""Open flags: events keep the int (asm-generic layout); names only at output.

The names and values are checked against the kernel's own header, not a copy.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tracehound.openflags import (
    BITS,
    format_open_flags,
    is_directory,
    is_write,
    parse_open_flags,
)

GENERIC_H = Path("/usr/include/asm-generic/fcntl.h")


def header_values(path: Path) -> dict[str, int]:
    """#define O_NAME 0octal lines of a fcntl.h."""
    out = {}
    for name, value in re.findall(r"#define\s+(O_[A-Z]+)\s+(0[0-7]+)\b", path.read_text()):
        out[name] = int(value, 8)
    return out


def test_bit_names_match_the_kernel_header() -> None:
    if not GENERIC_H.exists():
        pytest.fail(f"{GENERIC_H} is missing (linux-libc-dev)")
    kernel = header_values(GENERIC_H)
    for bit, name in BITS:
        assert kernel[name] == bit, name


CASES = [
    (0, "O_RDONLY"),
    (0o1, "O_WRONLY"),
    (0o2, "O_RDWR"),
    (0o3, "O_ACCMODE"),
    (0o1101, "O_WRONLY|O_CREAT|O_TRUNC"),
    (0o2000000 | 0o200000, "O_RDONLY|O_DIRECTORY|O_CLOEXEC"),
    (0o20200002, "O_RDWR|O_TMPFILE"),
    (0o4010001, "O_WRONLY|O_SYNC"),
    (0o10001, "O_WRONLY|O_DSYNC"),
    (0o10000000 | 0o400000, "O_RDONLY|O_NOFOLLOW|O_PATH"),
    (0o100000000 | 0o1, "O_WRONLY|0x1000000"),  # a bit with no name stays visible
]


@pytest.mark.parametrize(("value", "text"), CASES, ids=[t for _, t in CASES])
def test_format_and_parse_round_trip(value: int, text: str) -> None:
    assert format_open_flags(value) == text
    assert parse_open_flags(text) == value


@pytest.mark.parametrize(
    ("text", "write", "directory"),
    [
        ("O_RDONLY", False, False),
        ("O_WRONLY|O_CREAT", True, False),
        ("O_RDWR", True, False),
        ("O_ACCMODE", False, False),  # 3 is not a valid access mode: not a write
        ("O_RDONLY|O_DIRECTORY", False, True),
        ("O_RDWR|O_TMPFILE", True, False),  # O_TMPFILE carries the O_DIRECTORY bit
    ],
)
def test_bit_tests(text: str, write: bool, directory: bool) -> None:
    flags = parse_open_flags(text)
    assert is_write(flags) is write
    assert is_directory(flags) is directory

"""Checks for config structs' __post_init__ that name the exact key and the bad value.

msgspec stops a struct at the first ValueError and reports it against the struct
as a whole (`sinks.x.batch`). A struct's checks instead return every problem as
(key relative to the struct, message) and raise them together; the validator
(config_validate.py) turns each into its full key path, so the error reads
`sinks.x.batch.max_events (line 8): must be a positive integer, got -5`.
"""

from __future__ import annotations

import json
from typing import Any

Problem = tuple[str, str]  # (dotted key relative to the struct, message)

_MARK = "tracehound-keyed-errors:"


class KeyedErrors(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(_MARK + json.dumps(problems))


def raise_problems(problems: list[Problem | None]) -> None:
    found = [p for p in problems if p is not None]
    if found:
        raise KeyedErrors(found)


def parse_problems(message: str) -> list[Problem] | None:
    """The problems raised by raise_problems(), from msgspec's wrapped message."""
    start = message.find(_MARK)
    if start == -1:
        return None
    text = message[start + len(_MARK) :].split(" - at `$")[0]
    return [(str(k), str(m)) for k, m in json.loads(text)]


def positive_int(key: str, value: int) -> Problem | None:
    return None if value >= 1 else (key, f"must be a positive integer, got {value!r}")


def int_at_least(key: str, value: int, minimum: int) -> Problem | None:
    ok = value >= minimum
    return None if ok else (key, f"must be an integer >= {minimum}, got {value!r}")


def int_between(key: str, value: int, low: int, high: int) -> Problem | None:
    """Every count in the config has an upper bound: memory and time are finite."""
    if value < low:
        if low <= 1:
            return positive_int(key, value) if low == 1 else non_negative(key, value)
        return int_at_least(key, value, low)
    return None if value <= high else (key, f"must be at most {high}, got {value!r}")


def seconds_up_to(key: str, value: float, high: float, *, zero: bool = False) -> Problem | None:
    """A duration: > 0 (>= 0 with zero=True) and at most `high` seconds (never inf or nan)."""
    low = non_negative(key, value) if zero else positive_number(key, value)
    if low is not None:
        return low
    ok = value <= high  # False for nan too
    return None if ok else (key, f"must be at most {high:g} seconds, got {value!r}")


def positive_number(key: str, value: float) -> Problem | None:
    return None if value > 0 else (key, f"must be a positive number, got {value!r}")


def non_negative(key: str, value: float) -> Problem | None:
    return None if value >= 0 else (key, f"must be >= 0, got {value!r}")


def within(key: str, value: float, low: float, high: float) -> Problem | None:
    ok = low <= value <= high
    return None if ok else (key, f"must be within {low}..{high}, got {value!r}")


def not_empty(key: str, value: Any) -> Problem | None:
    return None if value else (key, f"must not be empty, got {value!r}")

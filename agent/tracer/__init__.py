"""Capture: the C core (_core.c), backend choice, seccomp filter, spawn, profiles; and
decoding: the core's wire format (wire.py), decoders, process table, hand-off.
Reached by module name (importing the package loads nothing)."""

__all__: list[str] = []

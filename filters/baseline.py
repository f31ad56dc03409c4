"""Baseline: learn per executable what it runs, writes and connects to; flag the rest.

Items are normalised so that pids, numbers, hex ids, UUIDs, temp-file names and
ephemeral ports do not make every event new. The store is a small JSON document:

    {"version": 1, "updated": "...Z",
     "executables": {"/usr/bin/python3.11": {"exec": [...], "write": [...], "connect": [...]}}}

In detect mode an item missing from the baseline raises one "Unexpected behaviour"
alert per run; an executable that is itself new is reported once (by the exec that
started it) rather than once per thing it does.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tracehound.event import Alert, Event, parse_priority
from tracehound.families import CONNECT, EXEC
from tracehound.filters.config import BaselineConfig
from tracehound.filters.falco.fields import is_open_write
from tracehound.record import iso_time

RULE_NAME = "Unexpected behaviour"
KINDS = ("exec", "write", "connect")
ROOT_PARENT = "<no parent>"

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = re.compile(r"(?<![0-9A-Za-z])(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{8,}(?![0-9A-Za-z])")
_GIT_FANOUT = re.compile(r"/objects/[0-9a-f]{2}/")
# `git init` probes for symlinks with a mkstemp file "tXXXXXX" in .git: its random part
# can be all lowercase letters, which nothing below takes for random.
_GIT_PROBE = re.compile(r"/\.git/t[A-Za-z0-9]{6}$")
_MKSTEMP = re.compile(r"(?<![A-Za-z0-9])tmp[a-z0-9_]{8}(?![A-Za-z0-9_])")
# mkstemp-style names such as git's "tmp_obj_XXXXXX": a temp prefix, then 6 random chars.
_TMPNAME = re.compile(r"((?:tmp|temp)(?:[_.-][A-Za-z]+)*[_.-])[A-Za-z0-9]{6}(?![A-Za-z0-9])", re.I)
_RAND = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{6,}")
_MIXED_CASE = re.compile(
    r"(?<![A-Za-z0-9])(?=[A-Za-z0-9]*[a-z])(?=[A-Za-z0-9]*[A-Z])[A-Za-z0-9]{6,}"
)
_NUM = re.compile(r"[0-9]+")
_TEMP_DIRS = ("/tmp/", "/var/tmp/", "/dev/shm/", "/run/user/")
_EPHEMERAL_PORT = 32768


_norm_cache: dict[str, str] = {}


def normalize_cached(path: str) -> str:
    """normalize_path with a bounded cache: the same paths come back all the time."""
    hit = _norm_cache.get(path)
    if hit is None:
        if len(_norm_cache) >= 65536:
            _norm_cache.clear()
        hit = _norm_cache[path] = normalize_path(path)
    return hit


def normalize_path(path: str) -> str:
    """Replace the parts of a path that change from run to run with placeholders."""
    p = _UUID.sub("<uuid>", path)
    p = _HEX.sub("<hex>", p)
    p = _GIT_FANOUT.sub("/objects/<hex>/", p)
    p = _GIT_PROBE.sub("/.git/t<rand>", p)
    p = _TMPNAME.sub(r"\1<rand>", p)
    p = _MKSTEMP.sub("tmp<rand>", p)
    if p.startswith(_TEMP_DIRS):
        # Temp names are random by design: any letters+digits token or mixed-case token.
        p = _RAND.sub("<rand>", p)
        p = _MIXED_CASE.sub("<rand>", p)
    return _NUM.sub("<n>", p)


def normalize_endpoint(e: Event) -> str | None:
    f = e.fields
    ip = f.get("fd.rip") or f.get("fd.sip")
    port = f.get("fd.rport") or f.get("fd.sport")
    if ip is not None and port is not None:
        shown = "<ephemeral>" if isinstance(port, int) and port >= _EPHEMERAL_PORT else port
        return f"[{ip}]:{shown}" if ":" in str(ip) else f"{ip}:{shown}"
    name = f.get("fd.name")
    if isinstance(name, str) and name:
        return normalize_cached(name) if name.startswith("/") else name
    return None


class BaselineStore:
    def __init__(self) -> None:
        self.exes: dict[str, dict[str, set[str]]] = {}

    def has_exe(self, exe: str) -> bool:
        return exe in self.exes

    def contains(self, exe: str, kind: str, item: str) -> bool:
        kinds = self.exes.get(exe)
        return kinds is not None and item in kinds.get(kind, ())

    def add(self, exe: str, kind: str, item: str, max_items: int = 1 << 30) -> bool:
        """Add; True when the item was new (and fit under max_items)."""
        kinds = self.exes.setdefault(exe, {})
        items = kinds.setdefault(kind, set())
        if item in items or len(items) >= max_items:
            return False
        items.add(item)
        return True

    def merge(self, other: BaselineStore) -> None:
        for exe, kinds in other.exes.items():
            for kind, items in kinds.items():
                self.exes.setdefault(exe, {}).setdefault(kind, set()).update(items)

    def item_count(self) -> int:
        return sum(len(i) for k in self.exes.values() for i in k.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "updated": iso_time(time.time_ns()),
            "executables": {
                exe: {k: sorted(v) for k, v in sorted(kinds.items())}
                for exe, kinds in sorted(self.exes.items())
            },
        }

    @classmethod
    def from_json(cls, doc: Any) -> BaselineStore:
        if not isinstance(doc, dict) or doc.get("version") != 1:
            raise ValueError("not a tracehound baseline (expected version 1)")
        exes = doc.get("executables")
        if not isinstance(exes, dict):
            raise ValueError("baseline has no 'executables' table")
        store = cls()
        for exe, kinds in exes.items():
            if not isinstance(kinds, dict):
                raise ValueError(f"baseline entry for {exe!r} is not a table")
            for kind, items in kinds.items():
                if kind not in KINDS or not isinstance(items, list):
                    raise ValueError(f"baseline entry {exe!r}.{kind!r} is not a known list")
                store.exes.setdefault(exe, {})[kind] = {str(i) for i in items}
        return store

    @classmethod
    def load(cls, path: str | Path) -> BaselineStore:
        with open(path, encoding="utf-8") as fh:
            return cls.from_json(json.load(fh))

    def dumps(self) -> bytes:
        return json.dumps(self.to_json(), indent=1).encode() + b"\n"


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write via a temp file and rename, so a crash never leaves half a baseline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Baseline:
    """The stage: learn and/or detect, per configuration."""

    def __init__(self, cfg: BaselineConfig, now_ns: int | None = None) -> None:
        self.mode = cfg.mode
        self.file = cfg.file
        self.kinds = frozenset(cfg.kinds)
        self.priority = parse_priority(cfg.priority)
        self.max_items = cfg.max_items_per_exe
        self.store = BaselineStore()
        start = time.time_ns() if now_ns is None else now_ns
        self.learn_until = start + int(cfg.learn_secs * 1e9)
        self._reported: set[tuple[str, str, str]] = set()
        self._covered: set[str] = set()  # new executables already reported by their exec
        self.dirty = False
        self.learned = 0
        self.unexpected = 0
        self.repeats = 0

    @property
    def active(self) -> bool:
        return self.mode != "off"

    def detecting(self, e: Event) -> bool:
        if self.mode == "detect":
            return True
        return self.mode == "learn-then-detect" and e.ts >= self.learn_until

    def items(self, e: Event) -> tuple[str, str, str] | None:
        """(executable, kind, item) this event contributes, or None."""
        t = e.type
        if t in EXEC:
            if "exec" not in self.kinds or e.fields.get("evt.failed"):
                return None
            parent = e.proc.parent
            owner = normalize_cached(parent.exepath) if parent is not None else ROOT_PARENT
            return owner, "exec", normalize_cached(e.proc.exepath)
        if t in CONNECT:
            if "connect" not in self.kinds:
                return None
            ep = normalize_endpoint(e)
            return None if ep is None else (normalize_cached(e.proc.exepath), "connect", ep)
        if "write" in self.kinds and is_open_write(e):
            name = e.fields.get("fd.name")
            if isinstance(name, str):
                return normalize_cached(e.proc.exepath), "write", normalize_cached(name)
        return None

    def would_alert(self, e: Event) -> bool:
        if not self.detecting(e):
            return False
        it = self.items(e)
        return it is not None and not self._known(it)

    def _known(self, it: tuple[str, str, str]) -> bool:
        exe, kind, item = it
        if self.store.contains(exe, kind, item):
            return True
        # Things done by a new executable were covered by the alert on its exec.
        return kind != "exec" and exe in self._covered

    def process(self, e: Event) -> Alert | None:
        it = self.items(e)
        if it is None:
            return None
        if not self.detecting(e):
            if self.store.add(*it, max_items=self.max_items):
                self.learned += 1
                self.dirty = True
            return None
        if self._known(it):
            return None
        if it in self._reported:
            self.repeats += 1
            return None
        self._reported.add(it)
        exe, kind, item = it
        if kind == "exec" and not self.store.has_exe(item):
            self._covered.add(item)
        elif kind != "exec" and not self.store.has_exe(exe):
            self._covered.add(exe)
        self.unexpected += 1
        verb = {"exec": "ran", "write": "wrote", "connect": "connected to"}[kind]
        output = (
            f"Unexpected behaviour: {exe} {verb} {item}, not in the baseline "
            f"(proc={e.proc.name} cmdline={e.proc.cmdline} pid={e.proc.pid})"
        )
        return Alert(e, RULE_NAME, self.priority, output, ("baseline", kind), str(uuid.uuid4()))

    def load(self) -> str | None:
        """Load the file if present; returns a warning message, or None."""
        if not self.file:
            return None
        try:
            self.store = BaselineStore.load(self.file)
        except FileNotFoundError:
            if self.mode == "detect":
                return f"baseline file {self.file} not found: every behaviour will look new"
            return None
        except (OSError, ValueError) as exc:
            return f"baseline file {self.file} not loaded: {exc}"
        return None

    def snapshot(self) -> bytes | None:
        """The JSON to save, or None when nothing changed since the last snapshot."""
        if not self.dirty or not self.file:
            return None
        self.dirty = False
        return self.store.dumps()

    def stats(self) -> dict[str, int]:
        return {
            "baseline_learned": self.learned,
            "baseline_unexpected": self.unexpected,
            "baseline_repeats": self.repeats,
            "baseline_items": self.store.item_count(),
        }

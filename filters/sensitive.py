"""Sensitive paths: tag events that touch configured prefixes or globs.

Prefixes are checked by walking up the path in a set (cost grows with path depth,
not with the number of prefixes); globs are joined into one regex per leading
directory, so a path only meets the globs that could match it. Results are cached
per (path, write) because programs open the same files over and over.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat

from tracehound.event import Event
from tracehound.families import EXEC, MODIFY, OPEN
from tracehound.filters.config import SensitivePathsConfig
from tracehound.filters.falco.fields import is_open_write
from tracehound.filters.globs import first_literal_component, glob_to_regex

PATH_TYPES = OPEN | MODIFY | EXEC | {"mkdir", "mkdirat"}

_CACHE_MAX = 65536
_FILES_MAX = 2000  # files indexed by inode below the sensitive prefixes
_DEPTH_MAX = 3  # directories below a prefix


class _Matcher:
    def __init__(self, prefixes: list[str], globs: list[str]) -> None:
        self.prefixes = frozenset(p.rstrip("/") or "/" for p in prefixes)
        buckets: dict[str | None, list[str]] = {}
        for g in globs:
            buckets.setdefault(first_literal_component(g), []).append(glob_to_regex(g))
        self.by_first = {
            k: re.compile("|".join(f"(?:{r})" for r in rs)).fullmatch
            for k, rs in buckets.items()
            if k is not None
        }
        general = buckets.get(None)
        self.general = (
            re.compile("|".join(f"(?:{r})" for r in general)).fullmatch if general else None
        )
        self.empty = not self.prefixes and not buckets

    def __call__(self, path: str) -> bool:
        if self.empty:
            return False
        prefixes = self.prefixes
        if prefixes:
            p = path
            while p:
                if p in prefixes:
                    return True
                i = p.rfind("/")
                if i <= 0:
                    break
                p = p[:i]
            if "/" in prefixes:
                return True
        if self.by_first:
            end = path.find("/", 1)
            first = path[1:end] if end != -1 else path[1:]
            m = self.by_first.get(first)
            if m is not None and m(path) is not None:
                return True
        return self.general is not None and self.general(path) is not None


class SensitivePaths:
    def __init__(self, cfg: SensitivePathsConfig) -> None:
        self.tag = cfg.tag
        self.any = _Matcher(cfg.prefixes, cfg.globs)
        self.write = _Matcher(cfg.write_prefixes, cfg.write_globs)
        self._cache: dict[tuple[str, bool], bool] = {}
        self._tags: dict[tuple[object, ...], bool] = {}  # would_tag's answers
        self.tagged = 0
        # A hardlink is another name of the same file: with tracer.verify the opened
        # file's device and inode come along, and match the files found below the
        # prefixes at start.
        self.inodes = file_ids(cfg.prefixes)

    def matches(self, path: str, write: bool) -> bool:
        key = (path, write)
        hit = self._cache.get(key)
        if hit is None:
            hit = self.any(path) or (write and self.write(path))
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    def process(self, e: Event) -> None:
        if self.would_tag(e):
            e.tags.add(self.tag)
            self.tagged += 1

    def would_tag(self, e: Event) -> bool:
        """Whether `e` names a sensitive path: a function of its type, name, open flags and
        file identity, so remembered per such key (bounded) for repeated events."""
        f = e.fields
        key = (e.type, f.get("fd.name"), f.get("evt.arg.flags"), f.get("fd.dev"), f.get("fd.ino"))
        try:
            hit = self._tags.get(key)
        except TypeError:  # a value that cannot be a key
            return self._would_tag(e)
        if hit is None:
            if len(self._tags) >= _CACHE_MAX:
                self._tags.clear()
            hit = self._tags[key] = self._would_tag(e)
        return hit

    def _would_tag(self, e: Event) -> bool:
        if e.type not in PATH_TYPES:
            return False
        path = e.fields.get("fd.name")
        if not isinstance(path, str) or not path.startswith("/"):
            return False
        write = e.type in MODIFY or is_open_write(e)
        return self.matches(path, write) or (
            "fd.ino" in e.fields and (e.fields.get("fd.dev"), e.fields["fd.ino"]) in self.inodes
        )


def file_ids(
    prefixes: list[str], limit: int = _FILES_MAX, depth: int = _DEPTH_MAX
) -> frozenset[tuple[int, int]]:
    """(device, inode) of the regular files at or below `prefixes` (at most `depth`
    directories down, at most `limit` files: a start-up cost, so bounded)."""
    out: set[tuple[int, int]] = set()
    for prefix in prefixes:
        stack = [(prefix, 0)]
        while stack and len(out) < limit:
            p, level = stack.pop()
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                out.add((st.st_dev, st.st_ino))
            elif stat.S_ISDIR(st.st_mode) and level < depth:
                with contextlib.suppress(OSError):
                    stack += [(os.path.join(p, n), level + 1) for n in os.listdir(p)]
    return frozenset(out)

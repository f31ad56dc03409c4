"""strace as the oracle: what it records for a program, reduced to comparable keys.

A key is (syscall, detail): the path (resolved to an absolute path, as
tracehound's fd.name is) or socket address, or "" for syscalls that have
neither. Only the syscall's first line counts ("<... resumed>" lines don't).
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
from pathlib import Path

_LINE = re.compile(r"^(\d+)\s+([a-z_0-9]+)\((.*)$")
_RESUMED = re.compile(r"^(\d+)\s+<\.\.\. ([a-z_0-9]+) resumed>(.*)$")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_FD_PATH = re.compile(r"^(-?\d+)<([^>]*)>")
_INET = re.compile(r'sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)')
_INET6 = re.compile(r'sin6_port=htons\((\d+)\).*inet_pton\(AF_INET6, "([^"]+)"')
_UNIX = re.compile(r'sun_path=(@?)"((?:[^"\\]|\\.)*)"')

# Syscalls whose key carries the path in their first string argument.
PATH_CALLS = {
    "open", "openat", "openat2", "creat", "execve", "unlink", "unlinkat", "rmdir",
    "rename", "renameat", "renameat2", "chmod", "fchmodat", "fchmodat2", "chown",
    "lchown", "fchownat", "mount", "umount2",
}  # fmt: skip
ADDR_CALLS = {"connect", "bind", "accept", "accept4"}
# The peer of an accepted connection has an ephemeral port that differs per run.
PEER_CALLS = {"accept", "accept4"}


def _strip_port(name: str, addr: str) -> str:
    return addr.rsplit(":", 1)[0] if name in PEER_CALLS and ":" in addr else addr


Key = tuple[str, str]


def _unescape(s: str) -> str:
    return s.encode("latin-1", "backslashreplace").decode("unicode_escape")


def _resolve(path: str, cwd: str, dir_arg: str | None) -> str:
    if not path.startswith("/"):
        base = dir_arg if dir_arg is not None else cwd
        path = os.path.join(base, path) if path else base
    return os.path.normpath(path)


# An open's result as strace -y shows it: "= 3</usr/lib/x86_64-linux-gnu/libc.so.6>".
_OPENED = re.compile(r"\)\s+=\s+\d+<((?:[^>\\]|\\.)*)>\s*$")
OPEN_CALLS = {"open", "openat", "openat2", "creat"}


def key_of(name: str, args: str, cwd: str, truth: bool = False) -> Key | None:
    """The key; with `truth`, an open that succeeded is keyed by the file the kernel
    opened (strace -y's name of the returned fd), not by the path passed."""
    if truth and name in OPEN_CALLS and (m := _OPENED.search(args)):
        return name, _unescape(m.group(1))
    if name in ("dup2", "dup3"):
        m = re.match(r"[^,]*,\s*(-?\d+)", args)
        newfd = int(m.group(1)) if m else 99
        return (name, "") if newfd < 3 else None  # the filter stops only onto 0-2
    if name in ADDR_CALLS:
        if m := _INET.search(args):
            return name, _strip_port(name, f"{m.group(2)}:{m.group(1)}")
        if m := _INET6.search(args):
            return name, _strip_port(name, f"[{m.group(2)}]:{m.group(1)}")
        if m := _UNIX.search(args):
            return name, m.group(1) + _unescape(m.group(2))
        return name, ""
    if name in PATH_CALLS:
        m = _STRING.search(args)
        if not m:
            return name, ""
        dir_arg = None
        # *at() calls relative to a directory fd: strace -y shows it as 3</dir>.
        fd = _FD_PATH.match(args)
        if fd and int(fd.group(1)) >= 0 and m.start() > 0:
            dir_arg = fd.group(2)
        return name, _resolve(_unescape(m.group(1)), cwd, dir_arg)
    return name, ""


STRACE_OUT = "strace.out"


def strace_keys(
    argv: list[str],
    syscalls: set[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    truth: bool = False,
) -> collections.Counter[Key]:
    out = cwd / STRACE_OUT
    subprocess.run(
        ["strace", "-f", "-y", "-s", "4096", "--seccomp-bpf",
         "-e", "trace=" + ",".join("?" + s for s in sorted(syscalls)), "-o", str(out), *argv],
        cwd=cwd, env=env, check=False, capture_output=True, timeout=120,
    )  # fmt: skip
    return parse_strace(out, syscalls, cwd, truth)


def parse_strace(
    out: Path, syscalls: set[str], cwd: Path, truth: bool = False
) -> collections.Counter[Key]:
    """The keys of a strace -f -y output file (strace_keys leaves it in cwd)."""
    keys: collections.Counter[Key] = collections.Counter()
    unfinished: dict[str, tuple[str, str]] = {}  # pid -> (name, args so far)
    for line in out.read_text(errors="replace").splitlines():
        resumed = _RESUMED.match(line)
        if resumed and resumed.group(1) in unfinished:
            name, args = unfinished.pop(resumed.group(1))
            calls = [(name, args + resumed.group(3))]
        else:
            m = _LINE.match(line)
            if not m or m.group(2) not in syscalls:
                continue
            if m.group(3).endswith("<unfinished ...>"):
                unfinished[m.group(1)] = (m.group(2), m.group(3)[: -len("<unfinished ...>")])
                continue
            calls = [(m.group(2), m.group(3))]
        for name, args in calls:
            k = key_of(name, args, str(cwd), truth)
            if k is not None:
                keys[k] += 1
    for name, args in unfinished.values():  # killed inside the call: still made
        k = key_of(name, args, str(cwd))
        if k is not None:
            keys[k] += 1
    return keys


# Where tracehound keeps the argument as passed when the kernel's answer differs.
_CLAIMS = ("evt.arg.name", "evt.arg.addr", "evt.arg.claim")


def tracehound_keys(
    events: list[dict], syscalls: set[str], truth: bool = False
) -> collections.Counter[Key]:
    """Keys of the claims (the arguments as passed, as strace shows them), or with
    `truth` of fd.name (the kernel's answer, with tracer.verify)."""
    keys: collections.Counter[Key] = collections.Counter()
    for f in events:
        name = f["evt.type"]
        if name not in syscalls:
            continue
        detail = f.get("fd.name", "")
        if not truth:
            detail = next((f[k] for k in _CLAIMS if k in f), detail)
        if name in ("dup2", "dup3"):
            keys[(name, "")] += 1
        elif name in PATH_CALLS or name in ADDR_CALLS:
            keys[(name, _strip_port(name, detail))] += 1
        else:
            keys[(name, "")] += 1
    return keys

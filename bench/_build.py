"""Compile the workloads and prepare their data, once per build directory.

Build output lives outside the repository by default (/tmp/tracehound-bench), so
nothing generated lands in the work tree except bench/results/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parent / "workloads"
C_PROGRAMS = (
    "stopwatch", "io_loop", "open_loop", "threads_open", "tcp_client", "tcp_server", "httpload",
    "allow_all",
)  # fmt: skip
# Stdlib packages copied into W6's source tree; a fixed copy keeps tar's input stable.
TREE_PACKAGES = (
    "email", "json", "asyncio", "http", "xml", "unittest", "logging", "concurrent",
    "importlib", "collections", "multiprocessing", "urllib", "tomllib", "idlelib", "lib2to3",
)  # fmt: skip
NFILES = 16  # files read by W2, W7 and W8
NGINX_FILES = 32  # static files served in W5


@dataclass(frozen=True)
class Build:
    root: Path

    def bin(self, name: str) -> str:
        return str(self.root / "bin" / name)

    @property
    def files(self) -> Path:
        return self.root / "files"

    @property
    def www(self) -> Path:
        return self.root / "www"

    @property
    def tree(self) -> Path:
        return self.root / "tree"


def _stale(out: Path, *inputs: Path) -> bool:
    return not out.exists() or any(p.stat().st_mtime > out.stat().st_mtime for p in inputs)


def _compile_c(b: Build) -> None:
    (b.root / "bin").mkdir(parents=True, exist_ok=True)
    for name in C_PROGRAMS:
        src, out = SRC / f"{name}.c", b.root / "bin" / name
        if _stale(out, src, SRC / "common.h"):
            subprocess.run(
                ["gcc", "-O2", "-Wall", "-Wextra", "-pthread", "-o", str(out), str(src)],
                check=True,
            )


def _compile_go(b: Build) -> None:
    src, out = SRC / "gorout", b.root / "bin" / "gorout"
    if not _stale(out, src / "main.go", src / "go.mod"):
        return
    env = dict(os.environ)
    # stdlib only: no module downloads, caches kept out of $HOME and the repo
    env.update(GOCACHE=str(b.root / "gocache"), GOPATH=str(b.root / "gopath"),
               GOFLAGS="-mod=mod", GOPROXY="off", GO111MODULE="on", CGO_ENABLED="0")  # fmt: skip
    subprocess.run(["go", "build", "-o", str(out), "."], cwd=src, env=env, check=True)


def _data(b: Build) -> None:
    b.files.mkdir(parents=True, exist_ok=True)
    for i in range(NFILES):
        (b.files / f"f{i}").write_bytes(bytes(range(256)) * 2)
    b.www.mkdir(parents=True, exist_ok=True)
    for i in range(NGINX_FILES):
        # 0.5 to 8 KiB: typical small static assets
        (b.www / f"f{i}.html").write_text("<p>" + "tracehound " * (50 + 24 * i) + "</p>\n")
    if not b.tree.exists():
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        tmp = b.root / "tree.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        for pkg in TREE_PACKAGES:
            if (stdlib / pkg).is_dir():
                shutil.copytree(stdlib / pkg, tmp / pkg,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
        tmp.rename(b.tree)


def build(root: Path) -> Build:
    b = Build(root)
    _compile_c(b)
    _compile_go(b)
    _data(b)
    return b

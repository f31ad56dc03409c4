"""A Fargate-like container runtime for tests: podman with runc (the OCI runtime
Fargate runs), a Debian root filesystem made locally with mmdebstrap (no registry
pull), Fargate's capability set and the runtime's default seccomp profile.

The root filesystem is cached under /var/cache/tracehound-tests (TRACEHOUND_TEST_CACHE
moves it), keyed by the package list, so it is made once per machine (about 80 s).
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

CACHE = Path(os.environ.get("TRACEHOUND_TEST_CACHE", "/var/cache/tracehound-tests"))
SUITE = "bookworm"
PACKAGES = ("nginx-light", "python3-minimal", "libpython3.11-stdlib")
APP_UID = 10001  # the image's non-root user, "app", as in deploy/examples/python-app

# Docker's default capability set (what Fargate gives), then SYS_PTRACE, the one
# capability a Fargate task definition may add.
DOCKER_DEFAULT_CAPS = (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
)  # fmt: skip
RUNTIME = "runc"  # Fargate's; crun also refuses this machine's hybrid cgroup layout
TOOLS = {"podman": "podman", "runc": "runc", "mmdebstrap": "mmdebstrap"}


def missing_tools() -> list[str]:
    return [pkg for pkg, exe in TOOLS.items() if shutil.which(exe) is None]


def runtime_problem() -> str | None:
    """Why no container can run here (None: they can)."""
    if os.geteuid() != 0:
        return "the container test runs rootful podman: it needs root"
    missing = missing_tools()
    if missing:
        return f"not installed: {', '.join(missing)} (apt-get install {' '.join(missing)})"
    return None


def rootfs() -> Path:
    """The cached root filesystem (a directory), made on first use."""
    key = hashlib.sha256(f"{SUITE} {' '.join(PACKAGES)} uid={APP_UID}".encode()).hexdigest()
    root = CACHE / f"rootfs-{SUITE}-{key[:12]}"
    if (root / "etc" / "os-release").exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = root.with_name(root.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    argv = [
        "mmdebstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
        f'--customize-hook=chroot "$1" useradd --system --uid {APP_UID} --user-group app',
        SUITE, str(tmp),
    ]  # fmt: skip
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"mmdebstrap failed:\n{done.stderr[-3000:]}")
    tmp.rename(root)
    return root


def _ulimits() -> list[str]:
    # podman's default (1048576 open files) needs CAP_SYS_RESOURCE to set; Fargate's
    # default is 65535. Take the smaller of that and what this machine allows.
    nofile = min(65535, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    nproc = 32768 if nproc == resource.RLIM_INFINITY else min(nproc, 32768)
    return ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}"]


@dataclass
class Container:
    """One `podman run` as a Fargate task runs its container."""

    root: Path
    argv: list[str]
    sys_ptrace: bool = True
    init: bool = False  # ECS initProcessEnabled: an init above the entrypoint
    user: str | None = None  # the task definition's "user" (uid:gid)
    env: dict[str, str] = field(default_factory=dict)
    volumes: list[str] = field(default_factory=list)  # podman -v specs
    tmpfs: list[str] = field(default_factory=list)  # writable paths in the read-only root
    name: str = field(default_factory=lambda: f"th-test-{uuid.uuid4().hex[:10]}")

    def command(self) -> list[str]:
        caps = list(DOCKER_DEFAULT_CAPS) + (["SYS_PTRACE"] if self.sys_ptrace else [])
        cmd = [
            "podman", "run", "--rm", "--name", self.name, "--runtime", RUNTIME,
            "--network", "host",  # the test's servers listen on the host's loopback
            "--read-only", "--cap-drop", "all", "--cap-add", ",".join(caps),
            "--pull", "never", *_ulimits(),
        ]  # fmt: skip
        if self.init:
            cmd += ["--init", "--init-path", shutil.which("catatonit") or "catatonit"]
        if self.user:
            cmd += ["--user", self.user]
        for k, v in self.env.items():
            cmd += ["--env", f"{k}={v}"]
        for v in self.volumes:
            cmd += ["--volume", v]
        for t in self.tmpfs:
            cmd += ["--tmpfs", t]
        # --rootfs takes the directory in place of an image: it must come last.
        return [*cmd, "--rootfs", str(self.root), *self.argv]

    def start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stop(self, timeout_s: int) -> None:
        """ECS's stop: SIGTERM to the container's PID 1, SIGKILL after stopTimeout."""
        subprocess.run(
            ["podman", "stop", "--time", str(timeout_s), self.name],
            capture_output=True,
            timeout=timeout_s + 60,
        )

    def remove(self) -> None:
        subprocess.run(["podman", "rm", "--force", self.name], capture_output=True, timeout=60)


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)

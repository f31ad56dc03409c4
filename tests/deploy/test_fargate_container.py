"""tracehound in a real container, set up as a Fargate task runs it.

podman + runc, a Debian root filesystem made with mmdebstrap (deploy_container.py),
the self-contained bundle (deploy/bundle) copied into a volume by its own init step
(`tracehound install-bundle`, the init container of `ecs instrument`) and mounted
read-only at /opt/tracehound; tracehound as PID 1, read-only root filesystem,
Docker's default capabilities plus SYS_PTRACE, the runtime's default seccomp profile,
a stand-in ECS metadata endpoint, alerts to a webhook on the host's loopback. Then
the same without SYS_PTRACE (EKS on Fargate) and under an init (initProcessEnabled).
Skipped, with the reason, where podman/runc/mmdebstrap are missing (scripts/test
installs them on Debian).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from deploy_container import APP_UID, Container, podman, rootfs, runtime_problem
from deploy_registry import serving_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "filters" / "falco"))
from ecs_metadata import CONTAINER, TASK, EcsMetadata

from tracehound.agent.config_env import CONFIG_ENV
from tracehound.agent.ecs.instrument import MOUNT, STOP_TIMEOUT, WRAPPER

HERE = Path(__file__).resolve().parent / "container"
WRAPPED = [WRAPPER, "run", "--"]
SETPRIV = ["setpriv", "--reuid=app", "--regid=app", "--init-groups"]
ATTACK_RULES = {
    "Execution from temporary directory",
    "Netcat with exec option",
    "Search for AWS credentials or private keys",
    "Package management process launched",
}


@pytest.fixture(scope="module")
def root() -> Path:
    problem = runtime_problem()
    if problem:
        pytest.skip(f"no container runtime: {problem}")
    return rootfs()


@pytest.fixture(scope="module")
def bundle_volume(root: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The task volume, filled as ECS does: the init container runs install-bundle.
    The bundle is the session's build (conftest's bundle_bin), or an existing one
    named by TRACEHOUND_TEST_BUNDLE (its DIST directory)."""
    given = os.environ.get("TRACEHOUND_TEST_BUNDLE")
    dist = Path(given) if given else request.getfixturevalue("bundle_bin").parent.parent
    vol = f"th-test-bin-{time.monotonic_ns()}"
    made = podman("volume", "create", vol)
    assert made.returncode == 0, made.stderr
    init = Container(
        root,
        [WRAPPER, "install-bundle", "/tracehound"],
        volumes=[f"{dist}:{MOUNT}:ro", f"{vol}:/tracehound"],
    )
    try:
        done = subprocess.run(init.command(), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "bundle copied to /tracehound" in done.stdout
        yield vol
    finally:
        podman("volume", "rm", "--force", vol)


@dataclass
class Hook:
    """The webhook on the host's loopback: every request's records, by path."""

    port: int = 0
    got: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    async def take(self, request: web.Request) -> web.Response:
        records = await request.json()
        self.got.setdefault(request.path, []).extend(records)
        return web.Response(status=200)

    def rules(self) -> set[str]:
        return {r["rule"] for r in self.got.get("/alerts", [])}


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    app = web.Application()
    app.router.add_post("/{kind}", h.take)
    with serving_app(app) as port:
        h.port = port
        yield h


@pytest.fixture(scope="module")
def metadata() -> Iterator[EcsMetadata]:
    with EcsMetadata() as m:
        yield m


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def agent_env(hook: Hook, metadata: EcsMetadata) -> dict[str, str]:
    """What `ecs instrument --config` puts in the task: the agent's config as TOML."""
    url = f"http://127.0.0.1:{hook.port}"
    config = f"""
[agent]
shutdown_timeout_secs = 20.0
[sinks.alerts]
type = "webhook"
inputs = ["alerts"]
url = "{url}/alerts"
batch.timeout_secs = 0.2
[sinks.events]
type = "webhook"
inputs = ["events"]
url = "{url}/events"
batch.timeout_secs = 0.5
"""
    return {CONFIG_ENV: config, "ECS_CONTAINER_METADATA_URI_V4": metadata.url}


def get(url: str, body: bytes | None = None, deadline_s: float = 90) -> str:
    """The page at url, retried until the service listens."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(url, data=body, timeout=60) as r:
                return str(r.read().decode())
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.3)


def final_sent(stderr: str, sink: str) -> int:
    """The agent's last word on a sink: everything sent, nothing dropped or left."""
    line = next(x for x in stderr.splitlines() if f"final: sink {sink} (webhook)" in x)
    assert " dropped=0 " in line and line.rstrip().endswith("buffered=0"), line
    return int(line.split(" sent=")[1].split()[0])


def stop(c: Container, proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    t = threading.Thread(target=c.stop, args=(STOP_TIMEOUT,))
    started = time.monotonic()
    t.start()
    out, err = proc.communicate(timeout=STOP_TIMEOUT + 60)
    t.join()
    # The agent's flush ended well before ECS would SIGKILL it.
    assert time.monotonic() - started < STOP_TIMEOUT - 5, err[-3000:]
    return proc.returncode, out, err


@pytest.mark.parametrize(
    ("sys_ptrace", "init"),
    [(True, False), (False, False), (True, True)],
    ids=["fargate", "without-sys-ptrace", "init-process-enabled"],
)
def test_service_attack_alerts_and_ecs_stop(
    root: Path,
    bundle_volume: str,
    hook: Hook,
    metadata: EcsMetadata,
    sys_ptrace: bool,
    init: bool,
) -> None:
    port = free_port()
    # With SYS_PTRACE tracehound stays root and the app drops to `app` (setpriv), as
    # deploy/examples/python-app does. Without it, root could not read the memory of
    # another user's process (process_vm_readv: EPERM): the whole container runs as
    # `app` (the task definition's "user"), so tracer and application share the uid.
    drop = SETPRIV if sys_ptrace else []
    c = Container(
        root,
        [*WRAPPED, *drop, "python3", "/srv/service.py", str(port)],
        user=None if sys_ptrace else f"{APP_UID}:{APP_UID}",
        sys_ptrace=sys_ptrace,
        init=init,
        env=agent_env(hook, metadata),
        volumes=[f"{bundle_volume}:{MOUNT}:ro", f"{HERE}:/srv:ro"],
    )
    proc = c.start()
    try:
        page = get(f"http://127.0.0.1:{port}/")
        assert page == f"orders service, uid {APP_UID}\n"
        # tracehound is PID 1, or the init's child (catatonit, mounted as podman-init).
        script = b"cat /proc/1/comm; grep -lx tracehound /proc/[0-9]*/comm"
        pids = get(f"http://127.0.0.1:{port}/run", script).split()
        assert pids[:2] == ["0", "podman-init" if init else "tracehound"]
        assert len(pids) == 3 and (pids[2] != "/proc/1/comm") == init
        reply = get(f"http://127.0.0.1:{port}/run", (HERE / "attack.sh").read_bytes())
        assert reply == "0\n", reply
        end = time.monotonic() + 30
        while not hook.rules() >= ATTACK_RULES and time.monotonic() < end:
            time.sleep(0.2)
        status, out, err = stop(c, proc)
    finally:
        c.remove()
    assert hook.rules() >= ATTACK_RULES, (hook.rules(), err[-4000:])
    # The application's exit status and stdout, untouched; the agent writes to stderr.
    assert status == 3, err[-3000:]
    assert out.splitlines() == [f"service: listening on {port}", "service: stopped"]
    # Every record reached the webhook before the container ended.
    assert final_sent(err, "alerts") == len(hook.got["/alerts"])
    assert final_sent(err, "events") == len(hook.got["/events"])
    backend = next(x for x in err.splitlines() if "tracer backend" in x)
    if not sys_ptrace:
        assert "seccomp_notify" in backend, backend
    alert = next(a for a in hook.got["/alerts"] if a["rule"] == "Netcat with exec option")
    assert alert["output_fields"]["user.uid"] == APP_UID  # the app's user, not the agent's
    # Enrichment from the task metadata endpoint, on the attack's own events.
    nc = [e["output_fields"] for e in hook.got["/events"]]
    nc = [f for f in nc if f.get("proc.cmdline", "").startswith("nc -e")]
    assert nc and all(f["container.id"] == CONTAINER["DockerId"] for f in nc)
    assert all(f["aws.ecs.task_arn"] == TASK["TaskARN"] for f in nc)


NGINX_CONF = """
worker_processes 2;
pid /run/nginx.pid;
error_log stderr;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:%d;
        root /var/www/html;
        index index.nginx-debian.html;
    }
}
"""


def test_nginx_serves_as_without_tracehound(
    root: Path, bundle_volume: str, hook: Hook, metadata: EcsMetadata, tmp_path: Path
) -> None:
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF % port)
    nginx = ["nginx", "-c", "/etc/th/nginx.conf", "-g", "daemon off;"]
    common = {
        "volumes": [f"{bundle_volume}:{MOUNT}:ro", f"{tmp_path}:/etc/th:ro"],
        "tmpfs": ["/var/lib/nginx", "/var/log/nginx"],
        "env": agent_env(hook, metadata),
    }
    pages = []
    results = []
    for argv in (nginx, [*WRAPPED, *nginx]):
        c = Container(root, argv, **common)  # type: ignore[arg-type]
        proc = c.start()
        try:
            pages.append(get(f"http://127.0.0.1:{port}/"))
            results.append(stop(c, proc))
        finally:
            c.remove()
    assert "Welcome to nginx" in pages[0] and pages[1] == pages[0]
    (plain_status, _, _), (status, out, err) = results
    assert plain_status == status == 0, err[-3000:]
    assert out == ""
    assert final_sent(err, "events") == len(hook.got["/events"]) > 0
    execs = [e for e in hook.got["/events"] if e["output_fields"].get("evt.type") == "execve"]
    assert execs and all(e["output_fields"]["container.id"] == CONTAINER["DockerId"] for e in execs)

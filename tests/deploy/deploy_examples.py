"""The examples' ENTRYPOINT + CMD run outside a container, with a given tracehound.

Used by test_entrypoint.py (tracehound from this checkout) and test_bundle.py (the
self-contained bundle), so both run exactly the same command lines.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_dockerfile import parse
from deploy_paths import DEPLOY
from deploy_run import (
    command_line,
    execs,
    file_sink_config,
    free_port,
    read_records,
    stop,
    wait_http,
)

PY_APP = DEPLOY / "examples" / "python-app"
NGINX = DEPLOY / "examples" / "nginx"
CHECKOUT_TRACEHOUND = [sys.executable, "-m", "tracehound.agent.cli"]


def _image_command(dockerfile: Path) -> tuple[list[str], list[str]]:
    *_, final = parse(dockerfile)
    return final.exec_form("ENTRYPOINT"), final.exec_form("CMD")


def run_python_app(tracehound: list[str], tmp: Path) -> None:
    """setpriv drops to an unprivileged user, Python serves; SIGTERM stops it cleanly."""
    entry, cmd = _image_command(PY_APP / "Dockerfile")
    # Outside the image: user app -> nobody, /app/app.py -> this checkout's copy.
    local = {
        "--reuid=app": "--reuid=nobody",
        "--regid=app": "--regid=nogroup",
        "/app/app.py": str(PY_APP / "app.py"),
    }
    cmd = [local.get(w, w) for w in cmd]
    records = tmp / "records.jsonl"
    argv = command_line(entry, cmd, tracehound, file_sink_config(tmp, records))
    port = free_port()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "PORT": str(port), "HOME": str(tmp)}
    if tracehound == CHECKOUT_TRACEHOUND:
        env["PYTHONPATH"] = str(DEPLOY.parent)
    tmp.chmod(0o755)  # the unprivileged app must reach app.py's directory only
    proc = subprocess.Popen(argv, cwd=tmp, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_http(port, "/healthz") == "ok\n"
    finally:
        code, err = stop(proc, signal.SIGTERM)
    assert code == 0, err
    started = execs(read_records(records))
    python = [e for e in started if e["proc.name"].startswith("python")]
    assert python and python[0]["user.uid"] == 65534, started  # after setpriv
    assert any(e["proc.name"] == "setpriv" for e in started)


def run_nginx(tracehound: list[str], tmp: Path) -> None:
    """nginx as root with workers as nobody; SIGQUIT (nginx's STOPSIGNAL) is forwarded."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        if os.environ.get("CI"):
            pytest.fail("nginx missing: apt-get install nginx-light")
        pytest.skip("nginx not installed")
    entry, cmd = _image_command(NGINX / "Dockerfile")
    # Stand-in for the image's /docker-entrypoint.sh: it ends in `exec "$@"` too.
    shim = tmp / "docker-entrypoint.sh"
    shim.write_text('#!/bin/sh\necho "entrypoint shim: $*" >&2\nexec "$@"\n')
    shim.chmod(0o755)
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"user nobody nogroup; worker_processes 2; pid {tmp}/nginx.pid;\n"
        f"error_log {tmp}/error.log;\nevents {{}}\n"
        f"http {{ access_log off; client_body_temp_path {tmp}/body;\n"
        f"  server {{ listen 127.0.0.1:{port}; location / {{ return 200 'ok\\n'; }} }} }}\n"
    )
    cmd = [str(shim) if w == "/docker-entrypoint.sh" else w for w in cmd]
    cmd = [*cmd, "-c", str(conf), "-e", f"{tmp}/error.log"]
    records = tmp / "records.jsonl"
    argv = command_line(entry, cmd, tracehound, file_sink_config(tmp, records))
    env = {"PATH": "/usr/sbin:/usr/bin:/bin", "HOME": str(tmp)}
    if tracehound == CHECKOUT_TRACEHOUND:
        env["PYTHONPATH"] = str(DEPLOY.parent)
    proc = subprocess.Popen(argv, cwd=tmp, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_http(port) == "ok\n"
    finally:
        code, err = stop(proc, signal.SIGQUIT)
    assert code == 0, err
    recs = read_records(records)
    started = [e["fd.name"] for e in execs(recs)]  # the path each execve was given
    assert started == [str(shim), "/usr/sbin/nginx"], started
    # Workers switch to nobody and keep being traced: they accept our request.
    worker = [r["output_fields"] for r in recs if r["output_fields"]["user.uid"] == 65534]
    assert {"setuid", "accept4"} <= {f["evt.type"] for f in worker}, worker

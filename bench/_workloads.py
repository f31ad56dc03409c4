"""The eight workloads: what runs under each configuration and how it is driven.

Every workload except W5 runs under the `stopwatch` program, the root of the traced
tree, which reports the time the application itself took. W5 (nginx) is measured by
its untraced load client in requests per second.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._build import NGINX_FILES, SRC, Build
from bench._net import free_port, wait_listening
from bench._proc import alive


@dataclass(frozen=True)
class Ctx:
    build: Build
    work: Path  # scratch directory for this harness run
    quick: bool


State = dict[str, Any]
# Runs while the traced application runs; returns the metric (rps) and makes the app exit.
Driver = Callable[[Ctx, State, "subprocess.Popen[bytes]"], float]


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    argv: Callable[[Ctx, State], list[str]]
    metric: str = "seconds"  # or "rps" (higher is better)
    fixture: Callable[[Ctx], contextlib.AbstractContextManager[State]] | None = None
    driver: Driver | None = None
    # Syscalls whose count legitimately differs between two runs (scheduling).
    nondeterministic: frozenset[str] = field(default_factory=frozenset)

    def command(self, ctx: Ctx, state: State) -> list[str]:
        argv = self.argv(ctx, state)
        if self.metric == "seconds":
            return [ctx.build.bin("stopwatch"), *argv]
        return argv


def _size(ctx: Ctx, full: int, quick: int) -> str:
    return str(quick if ctx.quick else full)


# ----- W4: an untraced TCP server for the traced client -----


@contextlib.contextmanager
def _tcp_server(ctx: Ctx) -> Iterator[State]:
    port_file = ctx.work / "tcp_server.port"
    port_file.unlink(missing_ok=True)
    proc = subprocess.Popen([ctx.build.bin("tcp_server"), str(port_file)])
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("tcp_server did not start")
            time.sleep(0.01)
        yield {"port": int(port_file.read_text())}
    finally:
        proc.kill()
        proc.wait()


# ----- W5: nginx under test, httpload (untraced) as the client -----

_NGINX_CONF = """\
worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
user root;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
    fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp;
    scgi_temp_path {dir}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {www};
    }}
}}
"""


@contextlib.contextmanager
def _nginx_conf(ctx: Ctx) -> Iterator[State]:
    d = ctx.work / "nginx"
    (d / "tmp").mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = d / "nginx.conf"
    conf.write_text(_NGINX_CONF.format(dir=d, port=port, www=ctx.build.www))
    yield {"dir": d, "conf": conf, "port": port}


def _nginx_argv(ctx: Ctx, st: State) -> list[str]:
    return ["/usr/sbin/nginx", "-p", str(st["dir"]), "-c", str(st["conf"]), "-g", "daemon off;"]


def _nginx_drive(ctx: Ctx, st: State, proc: subprocess.Popen[bytes]) -> float:
    try:
        wait_listening(st["port"], lambda: alive(proc.pid))
        requests = _size(ctx, 50_000, 3_000)
        out = subprocess.run(
            [ctx.build.bin("httpload"), str(st["port"]), requests, "8", str(NGINX_FILES)],
            capture_output=True, text=True, check=True, timeout=600,
        )  # fmt: skip
        fields = dict(kv.split("=") for kv in out.stdout.split())
        return float(fields["rps"])
    finally:
        _stop_nginx(st, proc)


def _stop_nginx(st: State, proc: subprocess.Popen[bytes]) -> None:
    # SIGQUIT to the master (from its pid file): graceful stop, workers exit first,
    # then the tracer sees the application end and flushes.
    pidfile = Path(st["dir"]) / "nginx.pid"
    deadline = time.monotonic() + 30
    while alive(proc.pid) and time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pidfile.read_text()), signal.SIGQUIT)
            return
        time.sleep(0.05)


# ----- the shell-driven workloads -----


def _w3(ctx: Ctx, st: State) -> list[str]:
    n = _size(ctx, 1_000, 60)
    loop = (
        f"i=0; while [ $i -lt {n} ]; do /bin/true; /bin/cat /etc/hostname >/dev/null; "
        "i=$((i+1)); done"
    )
    return ["/bin/sh", "-c", loop]


def _w6(ctx: Ctx, st: State) -> list[str]:
    rounds = _size(ctx, 3, 1)
    out, scratch = ctx.work / "w6.tgz", ctx.work / "w6x"
    job = (
        f"for r in $(seq {rounds}); do "
        f"{sys.executable} -I {SRC / 'stdlib_imports.py'} && "
        f"tar czf {out} -C {ctx.build.tree} . && mkdir -p {scratch} && "
        f"tar xzf {out} -C {scratch} && rm -rf {scratch} {out} || exit 1; done"
    )
    return ["/bin/sh", "-c", job]


WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "W1", "I/O: small pread/pwrite on one file",
        lambda c, s: [c.build.bin("io_loop"), str(c.work / "w1.dat"), _size(c, 600_000, 20_000)],
    ),
    Workload(
        "W2", "open-heavy: open, read, close",
        lambda c, s: [c.build.bin("open_loop"), str(c.build.files), _size(c, 100_000, 2_000)],
    ),
    Workload("W3", "process-heavy: shell loop of fork+exec", _w3),
    Workload(
        "W4", "network: short TCP connections",
        lambda c, s: [c.build.bin("tcp_client"), str(s["port"]), _size(c, 10_000, 500)],
        fixture=_tcp_server,
    ),
    Workload(
        "W5", "nginx: static files, keep-alive load", _nginx_argv,
        metric="rps", fixture=_nginx_conf, driver=_nginx_drive,
        # workers race for connections; the master's channel messages depend on timing
        nondeterministic=frozenset({"accept", "accept4", "sendmsg"}),
    ),
    Workload("W6", "mixed: Python stdlib imports, tar+gzip", _w6),
    Workload(
        "W7", "multi-threaded: 16 threads opening files",
        lambda c, s: [c.build.bin("threads_open"), str(c.build.files), "16",
                      _size(c, 4_000, 100)],
    ),
    Workload(
        "W8", "Go: goroutines opening files, preempted",
        lambda c, s: [c.build.bin("gorout"), str(c.build.files), "200", _size(c, 100, 10)],
        nondeterministic=frozenset({"kill", "tkill", "tgkill"}),  # preemption signals
    ),
)  # fmt: skip

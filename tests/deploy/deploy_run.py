"""Run an image's ENTRYPOINT + CMD outside a container and collect what it wrote."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from deploy_dockerfile import CONFIG_PATH, TRACEHOUND_BIN


def file_sink_config(tmp: Path, records: Path, extra: str = "") -> Path:
    cfg = tmp / "tracehound.toml"
    cfg.write_text(
        f'[agent]\nshutdown_timeout_secs = 10.0\n\n[sinks.out]\ntype = "file"\n'
        f'path = "{records}"\ninputs = ["events", "alerts"]\n{extra}'
    )
    return cfg


def command_line(
    entrypoint: list[str], cmd: list[str], tracehound: list[str], config: Path
) -> list[str]:
    """The image's command line with the two in-image paths swapped for local ones."""
    out: list[str] = []
    for word in [*entrypoint, *cmd]:
        if word == TRACEHOUND_BIN:
            out += tracehound
        elif word == CONFIG_PATH:
            out.append(str(config))
        else:
            out.append(word)
    return out


def wait_http(port: int, path: str = "/", deadline_s: float = 30) -> str:
    end = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                return str(r.read().decode())
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[str], sig: int, deadline_s: float = 30) -> tuple[int, str]:
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=deadline_s)
    return proc.returncode, err


def read_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def execs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r["output_fields"] for r in records if r["output_fields"]["evt.type"] == "execve"]

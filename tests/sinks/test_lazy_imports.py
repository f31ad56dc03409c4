"""A config with only file and console sinks starts without aiohttp, aiobotocore, botocore."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("aiohttp", "aiobotocore", "botocore")

# Everything `tracehound run` does before the tracer starts: parse the config, build
# the stage chain and the router, open every sink; then report what got imported.
PROBE = """
import functools, json, os, sys
HEAVY = ("aiohttp", "aiobotocore", "botocore")
from pathlib import Path
import anyio
import tracehound.agent.cli, tracehound.agent.entrypoint
from tracehound.agent.config import load_config
from tracehound.agent.router import Router
from tracehound.filters.chain import build_chain

async def main():
    cfg = load_config(sys.argv[1])
    chain = build_chain(cfg.filters, Path.cwd())
    router = Router.from_config(cfg.sinks)
    async with anyio.create_task_group() as tg:
        await router.start(alongside=functools.partial(chain.start, tg))
        await router.stop(5, log_summary=False)
        await chain.stop()

anyio.run(main)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)))
"""


def loaded(config: Path) -> list[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TRACEHOUND_TOKEN": "x"}
    res = subprocess.run(
        [sys.executable, "-c", PROBE, str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=config.parent,
    )
    assert res.returncode == 0, res.stderr
    return list(json.loads(res.stdout.splitlines()[-1]))


def test_file_and_console_sinks_import_no_client_library(tmp_path: Path) -> None:
    config = tmp_path / "t.toml"
    config.write_text(
        f"""
[sinks.console]
type = "console"

[sinks.archive]
type = "file"
inputs = ["events", "alerts"]
path = "{tmp_path}/records.jsonl"
"""
    )
    assert loaded(config) == []


def test_a_webhook_sink_imports_aiohttp_only(tmp_path: Path) -> None:
    # The probe does see an import when a sink needs its library.
    config = tmp_path / "t.toml"
    config.write_text(
        """
[sinks.siem]
type = "webhook"
url = "http://127.0.0.1:9/ingest"
healthcheck.enabled = false
"""
    )
    mods = loaded(config)
    assert "aiohttp" in mods
    assert not any(m.split(".")[0] in ("botocore", "aiobotocore") for m in mods)

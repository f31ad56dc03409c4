"""Why the task definition adds SYS_PTRACE: without it, processes that switch to another
user (nginx workers, setpriv, su) are still stopped but can no longer be read, so
their records lose paths and command lines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_paths import REPO
from deploy_run import file_sink_config, read_records

APP = "setpriv --reuid=nobody --regid=nogroup --init-groups /bin/cat /etc/hostname"


def _run(tmp: Path, drop: str | None) -> list[dict[str, object]]:
    capsh = shutil.which("capsh")
    if capsh is None:
        pytest.skip("capsh not installed (apt-get install libcap2-bin)")
    records = tmp / "records.jsonl"
    cfg = file_sink_config(tmp, records)
    inner = f"exec {sys.executable} -m tracehound.agent.cli run --config {cfg} -- {APP}"
    argv = [capsh, *([f"--drop={drop}"] if drop else []), "--", "-c", inner]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp)}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [r["output_fields"] for r in read_records(records)]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, like the agent in a container")
def test_sys_ptrace_is_what_keeps_other_users_readable(tmp_path: Path) -> None:
    (tmp_path / "with").mkdir()
    with_cap = _run(tmp_path / "with", None)
    cat = [f for f in with_cap if f.get("fd.name") == "/etc/hostname"]
    assert cat and cat[0]["user.uid"] == 65534 and cat[0]["proc.name"] == "cat"

    (tmp_path / "without").mkdir()
    without = _run(tmp_path / "without", "cap_sys_ptrace")
    after_drop = [f for f in without if f["user.uid"] == 65534]
    names = {f.get("fd.name") for f in after_drop if f["evt.type"] in ("openat", "execve")}
    assert "<unreadable>" in names and "/etc/hostname" not in names

"""Process values rules read (loginuid, tty, environment, capabilities, exe inode) are
taken by the tracer at exec, so a program that exits at once still has them."""

from __future__ import annotations

import os
from pathlib import Path

RULE = """
- rule: cat of hostname
  desc: a short-lived program opens a file
  condition: evt.type in (open, openat) and proc.name = cat and fd.name = /etc/hostname
  output: >
    seen loginuid=%user.loginuid tty=%proc.tty mark=%proc.env[TH_FACT]
    caps=%thread.cap_effective ino=%proc.exe_ino
  priority: WARNING
"""


def test_a_program_that_exits_at_once_keeps_its_process_values(run_traced, tmp_path: Path) -> None:
    rules = tmp_path / "facts.yaml"
    rules.write_text(RULE)
    config = f'[filters.rules]\nfiles = ["{rules}"]\nrate_limit.rate = 0\n'
    res = run_traced(["cat", "/etc/hostname"], config=config, env={"TH_FACT": "f-42"})
    assert res.returncode == 0, res.stderr
    (alert,) = [a for a in res.alerts() if a["rule"] == "cat of hostname"]
    out = alert["output_fields"]
    loginuid = int(Path("/proc/self/loginuid").read_text())
    assert out["user.loginuid"] == (-1 if loginuid == 0xFFFFFFFF else loginuid)
    assert out["proc.tty"] == 0  # no controlling terminal under pytest's capture
    assert out["proc.env[TH_FACT]"] == "f-42"
    assert out["thread.cap_effective"] and "CAP_SYS_ADMIN" in out["thread.cap_effective"]
    assert out["proc.exe_ino"] == os.stat("/usr/bin/cat").st_ino

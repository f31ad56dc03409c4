"""With the shipped default config the wrapper leaves the application's stdout alone."""

from __future__ import annotations

import subprocess
from pathlib import Path

from th_support import AGENT


def test_default_config_leaves_stdout_to_the_application(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # `tracehound run -- cat /etc/hostname > out`, with no --config: the shipped default.
    with out.open("wb") as stdout:
        res = subprocess.run(
            [*AGENT, "run", "--", "cat", "/etc/hostname"],
            stdout=stdout,
            stderr=subprocess.PIPE,
            timeout=60,
        )
    assert res.returncode == 0, res.stderr.decode()
    assert out.read_bytes() == Path("/etc/hostname").read_bytes()


def test_default_config_shows_alerts_on_stderr(tmp_path: Path) -> None:
    # Reading /etc/shadow raises an alert: it appears on stderr (JSON, as stderr is a pipe
    # here), and stdout has exactly what the application wrote.
    script = "cat /etc/shadow > /dev/null; echo done"
    res = subprocess.run([*AGENT, "run", "--", "sh", "-c", script], capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr.decode()
    assert res.stdout == b"done\n"
    alerts = [line for line in res.stderr.decode().splitlines() if line.startswith("{")]
    assert alerts, res.stderr.decode()
    assert all('"rule"' in line for line in alerts)  # alerts only: events are opt-in
    assert any("/etc/shadow" in line for line in alerts)


def test_print_config_is_a_config_validate_accepts(tmp_path: Path) -> None:
    """The bundle's build smoke test: unset optionals (no TOML null) must not break it."""
    out = subprocess.run([*AGENT, "print-config"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    cfg = tmp_path / "printed.toml"
    cfg.write_text(out.stdout)
    done = subprocess.run(
        [*AGENT, "validate", str(cfg)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr

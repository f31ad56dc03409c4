"""`pip install .` puts exactly one top-level name into site-packages: tracehound."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the project installed (not editable).

    Dependencies come from the test environment (system site packages); the
    project itself is built from this checkout.
    """
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(root)], check=True)
    subprocess.run(
        [
            str(root / "bin/python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            str(REPO),
        ],
        check=True,
        timeout=600,
    )
    return root


def _record(venv: Path) -> list[str]:
    (record,) = venv.glob("lib/python3*/site-packages/tracehound-*.dist-info/RECORD")
    return [line.split(",", 1)[0] for line in record.read_text().splitlines()]


def test_only_top_level_name_is_tracehound(venv: Path) -> None:
    tops = {p.split("/", 1)[0] for p in _record(venv) if not p.startswith("..")}
    tops = {t for t in tops if not t.endswith(".dist-info") and t != "__pycache__"}
    assert tops == {"tracehound"}


# The installed name of each source folder (pyproject.toml's package-dir).
_FOLDERS = {
    "src/tracehound": "tracehound",
    "agent": "tracehound/agent",
    "sinks": "tracehound/sinks",
    "filters": "tracehound/filters",
    "config": "tracehound/config",
}


def test_every_module_and_data_file_is_installed(venv: Path) -> None:
    """A subpackage missing from pyproject.toml's package list would install without
    its modules: every .py file of the checkout must be in the wheel."""
    files = set(_record(venv))
    wanted = ["tracehound/config/default.toml", "tracehound/config/default_rules.yaml"]
    for folder, installed in _FOLDERS.items():
        for src in sorted((REPO / folder).rglob("*.py")):
            wanted.append(f"{installed}/{src.relative_to(REPO / folder)}")
    assert "tracehound/filters/falco/engine.py" in wanted
    missing = [path for path in wanted if path not in files]
    assert not missing, missing


def test_console_script_runs_from_the_install(venv: Path, tmp_path: Path) -> None:
    # Run outside the checkout so nothing can be imported from the source tree.
    done = subprocess.run(
        [str(venv / "bin/tracehound"), "print-config"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "[tracer]" in done.stdout
    where = subprocess.run(
        [
            str(venv / "bin/python"),
            "-c",
            "import tracehound.agent; print(tracehound.agent.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), where

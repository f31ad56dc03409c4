"""The examples' ENTRYPOINT + CMD, run as the image would run them, minus the container.

Fast variant: tracehound from this checkout (python -m tracehound.agent.cli). The slow variant
(test_bundle.py) runs the same command lines with the self-contained bundle.
"""

from __future__ import annotations

from pathlib import Path

from deploy_examples import CHECKOUT_TRACEHOUND, run_nginx, run_python_app


def test_python_app_entrypoint(tmp_path: Path) -> None:
    run_python_app(CHECKOUT_TRACEHOUND, tmp_path)


def test_nginx_entrypoint(tmp_path: Path) -> None:
    run_nginx(CHECKOUT_TRACEHOUND, tmp_path)

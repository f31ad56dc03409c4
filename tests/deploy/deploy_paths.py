"""Where the deployment files live (imported by tests and conftest alike)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

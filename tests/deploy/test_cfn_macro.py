"""The CloudFormation macro: the CLI's rewrite on every AWS::ECS::TaskDefinition of a
template, packaged by its build script, and the result cfn-lint clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from deploy_paths import DEPLOY
from test_cloudformation import cfn_lint

MACRO = DEPLOY / "cloudformation" / "macro"
SAMPLE = Path(__file__).parent / "cfn_samples" / "service.json"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/tracehound:0.2.0"


def invoke(package: Path, event: dict[str, Any]) -> dict[str, Any]:
    """Run the handler from the built package alone (-S: no site-packages, so
    nothing of this checkout's install can be imported), as Lambda would."""
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(package)!r})\n"
        "import tracehound_macro\n"
        "print(json.dumps(tracehound_macro.handler(json.load(sys.stdin), None)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def built(tmp_path: Path) -> Path:
    pkg = tmp_path / "pkg"
    subprocess.run(["sh", str(MACRO / "build.sh"), str(pkg)], check=True, capture_output=True)
    return pkg


def test_the_macro_instruments_every_task_definition_and_lints(tmp_path: Path) -> None:
    template = json.loads(SAMPLE.read_text())
    params = template["Transform"][0]["Parameters"]
    fragment = {k: v for k, v in template.items() if k != "Transform"}
    res = invoke(built(tmp_path), {"requestId": "r1", "fragment": fragment, "params": params})
    assert res["status"] == "success", res
    out = res["fragment"]
    for name in ("WebTask", "WorkerTask"):
        props = out["Resources"][name]["Properties"]
        defs = {c["Name"]: c for c in props["ContainerDefinitions"]}
        assert defs["tracehound-init"]["Image"] == IMAGE
        app = next(c for n, c in defs.items() if n != "tracehound-init")
        assert app["EntryPoint"][:3] == ["/opt/tracehound/bin/tracehound", "run", "--"]
        assert "SYS_PTRACE" in app["LinuxParameters"]["Capabilities"]["Add"]
        assert {"Name": "tracehound-bin"} in props["Volumes"]
    worker = out["Resources"]["WorkerTask"]["Properties"]["ContainerDefinitions"][1]
    assert worker["LinuxParameters"]["InitProcessEnabled"] is True
    assert out["Resources"]["LogGroup"] == template["Resources"]["LogGroup"]
    path = tmp_path / "out.json"
    path.write_text(json.dumps(out))
    lint = cfn_lint(path)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    again = invoke(built(tmp_path / "b"), {"requestId": "r2", "fragment": out, "params": params})
    assert again["status"] == "success" and again["fragment"] == out  # idempotent


def test_a_missing_entrypoint_fails_the_transform_with_its_name(tmp_path: Path) -> None:
    template = json.loads(SAMPLE.read_text())
    fragment = {k: v for k, v in template.items() if k != "Transform"}
    del fragment["Resources"]["WebTask"]["Properties"]["ContainerDefinitions"][0]["EntryPoint"]
    res = invoke(
        built(tmp_path),
        {
            "requestId": "r",
            "fragment": fragment,
            "params": {"Image": IMAGE, "ReadImages": "false"},  # see test_ecs_registry.py
        },
    )
    assert res["status"] == "failure"
    assert "WebTask" in res["errorMessage"] and "'web'" in res["errorMessage"]
    assert "EntryPoint" in res["errorMessage"]


def test_macro_template_lints() -> None:
    lint = cfn_lint(MACRO / "macro.yaml")
    assert lint.returncode == 0, lint.stdout + lint.stderr

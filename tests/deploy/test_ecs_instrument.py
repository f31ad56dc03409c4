"""`tracehound ecs instrument`: task definitions rewritten so an existing image is
guarded, checked against botocore's RegisterTaskDefinition model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_task_definitions import problems

from tracehound.agent.ecs import CFN, Options, instrument, registrable
from tracehound.agent.ecs.instrument import INIT_NAME, MOUNT, VOLUME, WRAPPER

SAMPLES = Path(__file__).parent / "ecs_samples"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/tracehound:0.2.0"
CLI = [sys.executable, "-m", "tracehound.agent.cli"]


def sample(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return doc


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "ecs", "instrument", *args], capture_output=True, text=True, timeout=60, cwd=cwd
    )


def containers(td: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in td["containerDefinitions"]}


@pytest.mark.parametrize("name", ["web-single.json", "multi-firelens.json", "described.json"])
def test_output_is_a_valid_registration(name: str, tmp_path: Path) -> None:
    done = run_cli(str(SAMPLES / name), "--image", IMAGE)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert problems(out, "RegisterTaskDefinition") == ""
    init = containers(out)[INIT_NAME]
    assert init["image"] == IMAGE and init["essential"] is False
    assert {"name": VOLUME} in out["volumes"]


def test_the_wrapped_container_runs_the_original_under_tracehound() -> None:
    out = instrument(sample("web-single.json"), Options(image=IMAGE)).taskdef
    web = containers(out)["web"]
    assert web["entryPoint"] + web["command"] == [
        WRAPPER, "run", "--", "/docker-entrypoint.sh", "nginx", "-g", "daemon off;",
    ]  # fmt: skip
    assert {"sourceVolume": VOLUME, "containerPath": MOUNT, "readOnly": True} in web["mountPoints"]
    assert {"containerName": INIT_NAME, "condition": "SUCCESS"} in web["dependsOn"]
    assert web["linuxParameters"]["capabilities"]["add"] == ["SYS_PTRACE"]
    assert web["stopTimeout"] == 30
    before = sample("web-single.json")["containerDefinitions"][0]
    for key in ("image", "portMappings", "logConfiguration", "essential"):
        assert web[key] == before[key]


def test_everything_else_stays_as_it_was() -> None:
    before = sample("multi-firelens.json")
    out = instrument(before, Options(image=IMAGE)).taskdef
    after = containers(out)
    old = containers(before)
    # The FireLens router is essential: wrapped too, its configuration untouched.
    assert (
        after["log_router"]["firelensConfiguration"] == old["log_router"]["firelensConfiguration"]
    )
    api = after["api"]
    assert api["environment"] == old["api"]["environment"]
    assert api["secrets"] == old["api"]["secrets"]
    assert api["logConfiguration"] == old["api"]["logConfiguration"]
    caps = api["linuxParameters"]["capabilities"]
    assert caps == {"add": ["NET_BIND_SERVICE", "SYS_PTRACE"], "drop": ["MKNOD"]}
    assert api["linuxParameters"]["initProcessEnabled"] is True
    assert api["stopTimeout"] == 60  # already long enough
    assert api["dependsOn"][0] == {"containerName": "log_router", "condition": "START"}
    assert after["metrics"] == old["metrics"]  # not essential: not wrapped
    assert {"name": "scratch"} in out["volumes"]
    for key in ("family", "cpu", "memory", "taskRoleArn", "executionRoleArn"):
        assert out[key] == before[key]


def test_chosen_containers_and_an_unknown_name() -> None:
    out = instrument(
        sample("multi-firelens.json"), Options(image=IMAGE, containers=("api",))
    ).taskdef
    assert containers(out)["api"]["entryPoint"][0] == WRAPPER
    done = run_cli(
        str(SAMPLES / "multi-firelens.json"),
        "--image",
        IMAGE,
        "--container",
        "log_router",
        "--no-registry",  # tests/deploy/test_ecs_registry.py reads images from a registry
    )
    assert done.returncode == 2 and "container 'log_router'" in done.stderr  # image entrypoint
    done = run_cli(str(SAMPLES / "multi-firelens.json"), "--image", IMAGE, "--container", "apii")
    assert done.returncode == 2 and "'apii'" in done.stderr


def test_seccomp_notify_needs_no_capability() -> None:
    out = instrument(
        sample("web-single.json"), Options(image=IMAGE, backend="seccomp_notify")
    ).taskdef
    assert "linuxParameters" not in containers(out)["web"]


def test_entrypoint_from_the_image_must_be_given(tmp_path: Path) -> None:
    path = str(SAMPLES / "image-entrypoint.json")
    done = run_cli(path, "--image", IMAGE, "--no-registry")
    assert done.returncode == 2
    assert "container 'worker'" in done.stderr and "--entrypoint worker=" in done.stderr
    done = run_cli(
        path, "--image", IMAGE, "--entrypoint", 'worker=["/app/start"]', "--command", "worker=[]"
    )
    assert done.returncode == 0, done.stderr
    worker = containers(json.loads(done.stdout))["worker"]
    assert worker["entryPoint"] == [WRAPPER, "run", "--", "/app/start"] and worker["command"] == []


def test_a_second_run_changes_nothing(tmp_path: Path) -> None:
    first = tmp_path / "first.json"
    done = run_cli(str(SAMPLES / "multi-firelens.json"), "--image", IMAGE, "-o", str(first))
    assert done.returncode == 0, done.stderr
    again = run_cli(str(first), "--image", IMAGE)
    assert again.returncode == 0 and "already instrumented" in again.stderr
    assert json.loads(again.stdout) == json.loads(first.read_text())


def test_check_only_reports() -> None:
    done = run_cli(str(SAMPLES / "web-single.json"), "--image", IMAGE, "--check")
    assert done.returncode == 0, done.stderr
    assert "add init container 'tracehound-init'" in done.stdout
    assert "capability SYS_PTRACE added" in done.stdout
    assert "{" not in done.stdout.splitlines()[0]  # a report, not the task definition


def test_described_task_definition_loses_its_read_only_fields() -> None:
    td = registrable(sample("described.json"))
    for key in ("taskDefinitionArn", "revision", "status", "compatibilities", "registeredAt"):
        assert key not in td
    assert td["tags"] == [{"key": "team", "value": "shop"}]


def test_config_embedded_is_validated_first(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[tracer]\nprofile = "fastest"\n')
    done = run_cli(str(SAMPLES / "web-single.json"), "--image", IMAGE, "--config", str(bad))
    assert done.returncode == 2 and "tracer.profile" in done.stderr and "fastest" in done.stderr
    good = tmp_path / "good.toml"
    good.write_text('[tracer]\nprofile = "minimal"\n')
    done = run_cli(str(SAMPLES / "web-single.json"), "--image", IMAGE, "--config", str(good))
    assert done.returncode == 0, done.stderr
    env = containers(json.loads(done.stdout))["web"]["environment"]
    assert {"name": "TRACEHOUND_CONFIG_TOML", "value": good.read_text()} in env


def test_config_from_a_secret() -> None:
    arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/tracehound/config"
    out = instrument(sample("multi-firelens.json"), Options(image=IMAGE, config_from=arn)).taskdef
    secrets = containers(out)["api"]["secrets"]
    assert secrets[0]["name"] == "DB_PASSWORD"  # the application's own secret stays
    assert {"name": "TRACEHOUND_CONFIG_TOML", "valueFrom": arn} in secrets
    assert problems(out, "RegisterTaskDefinition") == ""


def test_run_reads_its_config_from_the_environment(tmp_path: Path) -> None:
    """What the rewritten container does: no config file, the TOML in the env var."""
    records = tmp_path / "records.jsonl"
    toml = f'[sinks.out]\ntype = "file"\npath = "{records}"\ninputs = ["events"]\n'
    done = subprocess.run(
        [*CLI, "run", "--", "cat", "/etc/hostname"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "TRACEHOUND_CONFIG_TOML": toml},
    )
    assert done.returncode == 0, done.stderr
    opened = [
        json.loads(x)["output_fields"].get("fd.name") for x in records.read_text().splitlines()
    ]
    assert "/etc/hostname" in opened
    broken = subprocess.run(
        [*CLI, "run", "--", "true"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "TRACEHOUND_CONFIG_TOML": '[tracer]\nargv_max = "x"\n'},
    )
    assert broken.returncode == 2 and "$TRACEHOUND_CONFIG_TOML" in broken.stderr


def test_cloudformation_names_are_rewritten_alike() -> None:
    td = {
        "Family": "shop",
        "ContainerDefinitions": [
            {"Name": "web", "Image": "nginx", "EntryPoint": ["/e"], "Command": ["c"]}
        ],
    }
    out = instrument(td, Options(image=IMAGE), CFN).taskdef
    web = {c["Name"]: c for c in out["ContainerDefinitions"]}["web"]
    assert web["EntryPoint"] == [WRAPPER, "run", "--", "/e"]
    assert web["LinuxParameters"] == {"Capabilities": {"Add": ["SYS_PTRACE"]}}
    assert out["Volumes"] == [{"Name": VOLUME}]

"""`ecs instrument` on task definitions that name only an image: the entrypoint and
command come from the image's registry (a real HTTP registry on loopback, with the
token flows real registries use; ECR's token from a moto server)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from deploy_registry import Registry, serving

from tracehound.agent.ecs import CFN, Options, instrument
from tracehound.agent.ecs.instrument import WRAPPER, InstrumentError
from tracehound.agent.ecs.registry import (
    DOCKER_HUB,
    RegistryError,
    cached,
    image_defaults,
    parse_reference,
)

TRACEHOUND_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/tracehound:0.2.0"
CLI = [sys.executable, "-m", "tracehound.agent.cli", "ecs", "instrument"]
MACRO = Path(__file__).resolve().parents[2] / "deploy" / "cloudformation" / "macro"
AMD64 = {"Entrypoint": ["/docker-entrypoint.sh"], "Cmd": ["nginx", "-g", "daemon off;"]}
ARM64 = {"Entrypoint": ["/arm/entry"], "Cmd": ["nginx-arm"]}
PY = {"Entrypoint": None, "Cmd": ["python3", "/app/app.py"], "User": "app"}


@pytest.fixture
def registry() -> Iterator[Registry]:
    reg = Registry()
    reg.add_image("shop/web", "1.0", {"amd64": AMD64, "arm64": ARM64})
    reg.add_image("shop/api", "2", {"amd64": PY}, docker_types=True)
    with serving(reg):
        yield reg


def only_image(image: str, name: str = "web", **extra: Any) -> dict[str, Any]:
    return {
        "family": "shop",
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{"name": name, "image": image, "essential": True, **extra}],
    }


def run_cli(td: dict[str, Any], tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "td.json"
    path.write_text(json.dumps(td))
    return subprocess.run(
        [*CLI, str(path), "--image", TRACEHOUND_IMAGE, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("image", "want"),
    [
        ("nginx", (DOCKER_HUB, "library/nginx", "latest")),
        ("nginx:1.27", (DOCKER_HUB, "library/nginx", "1.27")),
        ("bitnami/redis:7", (DOCKER_HUB, "bitnami/redis", "7")),
        ("ghcr.io/o/r/sub:v1", ("ghcr.io", "o/r/sub", "v1")),
        ("localhost:5000/app", ("localhost:5000", "app", "latest")),
        ("public.ecr.aws/n/n@sha256:" + "a" * 64, ("public.ecr.aws", "n/n", "sha256:" + "a" * 64)),
    ],
)  # fmt: skip
def test_references_are_read_as_docker_reads_them(image: str, want: tuple[str, ...]) -> None:
    ref = parse_reference(image)
    assert (ref.registry, ref.repository, ref.reference) == want


@pytest.mark.parametrize("image", ["", "Nginx", "nginx@sha256:12", "a b"])
def test_bad_references_are_refused_by_name(image: str) -> None:
    with pytest.raises(RegistryError, match="image"):
        parse_reference(image)


def test_the_index_leads_to_the_platforms_config(registry: Registry) -> None:
    image = f"127.0.0.1:{registry.port}/shop/web:1.0"
    amd = image_defaults(image, "amd64")
    arm = image_defaults(image, "arm64")
    assert (amd.entrypoint, amd.cmd) == (AMD64["Entrypoint"], AMD64["Cmd"])
    assert (arm.entrypoint, arm.cmd) == (ARM64["Entrypoint"], ARM64["Cmd"])
    assert amd.digest != arm.digest
    # Anonymous first, then a token for exactly this repository, then bearer requests;
    # the blob store (another host) never saw the registry's credentials.
    assert registry.log[0] == "GET /v2/shop/web/manifests/1.0 -"
    assert registry.log[1].startswith("GET /token ")
    assert registry.log[1].endswith("scope=repository:shop/web:pull")
    assert "GET /store -" in registry.log and not any(
        e.startswith("GET /store Bearer") for e in registry.log
    )
    with pytest.raises(RegistryError, match=r"no linux/s390x image \(it has linux/amd64, linux/ar"):
        image_defaults(image, "s390x")


def test_a_single_platform_docker_manifest_is_read_too(registry: Registry) -> None:
    found = image_defaults(f"127.0.0.1:{registry.port}/shop/api:2")
    assert (found.entrypoint, found.cmd) == ([], PY["Cmd"])


def test_the_cli_rewrites_a_task_that_names_only_an_image(
    registry: Registry, tmp_path: Path
) -> None:
    done = run_cli(only_image(f"127.0.0.1:{registry.port}/shop/web:1.0"), tmp_path)
    assert done.returncode == 0, done.stderr
    web = json.loads(done.stdout)["containerDefinitions"][1]
    assert web["entryPoint"] == [WRAPPER, "run", "--", *AMD64["Entrypoint"]]
    assert web["command"] == AMD64["Cmd"]


def test_graviton_tasks_get_the_arm64_config(registry: Registry, tmp_path: Path) -> None:
    td = only_image(f"127.0.0.1:{registry.port}/shop/web:1.0")
    td["runtimePlatform"] = {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}
    done = run_cli(td, tmp_path)
    assert done.returncode == 0, done.stderr
    web = json.loads(done.stdout)["containerDefinitions"][1]
    assert web["entryPoint"][3:] == ARM64["Entrypoint"] and web["command"] == ARM64["Cmd"]


def test_given_values_override_the_image(registry: Registry, tmp_path: Path) -> None:
    image = f"127.0.0.1:{registry.port}/shop/web:1.0"
    done = run_cli(only_image(image), tmp_path, "--entrypoint", 'web=["/bin/run"]')
    assert done.returncode == 0, done.stderr
    web = json.loads(done.stdout)["containerDefinitions"][1]
    # Docker's rule: another entrypoint drops the image's Cmd; the command was not given.
    assert web["entryPoint"] == [WRAPPER, "run", "--", "/bin/run"] and web["command"] == []
    done = run_cli(only_image(image, command=["nginx", "-T"]), tmp_path)
    web = json.loads(done.stdout)["containerDefinitions"][1]
    assert web["entryPoint"][3:] == AMD64["Entrypoint"] and web["command"] == ["nginx", "-T"]


def test_a_container_with_its_own_entrypoint_needs_no_registry(tmp_path: Path) -> None:
    # Nothing listens there: a request would fail the rewrite.
    td = only_image("127.0.0.1:9/nothing:1", entryPoint=["/app/start"])
    done = run_cli(td, tmp_path)
    assert done.returncode == 0, done.stderr
    web = json.loads(done.stdout)["containerDefinitions"][1]
    assert web["entryPoint"] == [WRAPPER, "run", "--", "/app/start"] and web["command"] == []


def test_registry_failures_are_clear_errors(registry: Registry, tmp_path: Path) -> None:
    base = f"127.0.0.1:{registry.port}"
    done = run_cli(only_image(f"{base}/shop/web:9.9"), tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "container 'web'" in done.stderr and "manifests/9.9: HTTP 404" in done.stderr
    done = run_cli(only_image("127.0.0.1:9/shop/web:1.0"), tmp_path)
    assert done.returncode == 2 and "Connection refused" in done.stderr
    done = run_cli(only_image(f"{base}/shop/web:1.0"), tmp_path, "--no-registry")
    assert done.returncode == 2 and "--entrypoint web=" in done.stderr


def test_a_private_image_without_credentials_names_the_way_out(registry: Registry) -> None:
    registry.auth = "basic"  # wants credentials; none are known for a loopback host
    with pytest.raises(RegistryError, match="wants credentials"):
        image_defaults(f"127.0.0.1:{registry.port}/shop/web:1.0")


def test_each_image_is_read_once(registry: Registry) -> None:
    calls: list[str] = []

    def counting(image: str, arch: str) -> Any:
        calls.append(image)
        return image_defaults(image, arch)

    image = f"127.0.0.1:{registry.port}/shop/web:1.0"
    td = only_image(image)
    td["containerDefinitions"].append({"name": "web2", "image": image, "essential": True})
    out = instrument(td, Options(image=TRACEHOUND_IMAGE, resolve=cached(counting))).taskdef
    assert calls == [image]
    assert [c.get("command") for c in out["containerDefinitions"][1:]] == [AMD64["Cmd"]] * 2


def test_the_cloudformation_macro_reads_images_too(registry: Registry) -> None:
    sys.path.insert(0, str(MACRO))
    try:
        import tracehound_macro
    finally:
        sys.path.remove(str(MACRO))

    def event(image: Any) -> dict[str, Any]:
        props = {
            "ContainerDefinitions": [{"Name": "web", "Image": image, "Essential": True}],
            "RuntimePlatform": {"CpuArchitecture": "ARM64"},
        }
        task = {"Type": "AWS::ECS::TaskDefinition", "Properties": props}
        return {"fragment": {"Resources": {"Task": task}}, "params": {"Image": TRACEHOUND_IMAGE}}

    out = tracehound_macro.handler(event(f"127.0.0.1:{registry.port}/shop/web:1.0"), None)
    assert out["status"] == "success", out
    web = out["fragment"]["Resources"]["Task"]["Properties"]["ContainerDefinitions"][1]
    assert web["EntryPoint"] == [WRAPPER, "run", "--", *ARM64["Entrypoint"]]
    assert web["Command"] == ARM64["Cmd"]
    out = tracehound_macro.handler(event({"Fn::Sub": "${AWS::AccountId}.dkr.ecr/x"}), None)
    assert out["status"] == "failure" and "not a plain reference" in out["errorMessage"]
    props = event("x")["fragment"]["Resources"]["Task"]["Properties"]
    with pytest.raises(InstrumentError, match="comes from the image"):  # resolve=None
        instrument(props, Options(image=TRACEHOUND_IMAGE), CFN)


def test_ecr_images_use_the_token_from_get_authorization_token(aws_env: str) -> None:
    """ECR: Basic auth with the token ECR's API returns (moto), sent to the registry."""
    client = botocore.session.get_session().create_client("ecr", region_name="us-east-1")
    data = client.get_authorization_token(registryIds=["123456789012"])["authorizationData"][0]
    reg = Registry(auth="basic", basic_token=data["authorizationToken"])
    reg.add_image("team/app", "v3", {"amd64": PY})
    with serving(reg):
        found = image_defaults(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v3",
            base_url=f"http://127.0.0.1:{reg.port}",
        )
    assert found.cmd == PY["Cmd"]
    assert "GET /v2/team/app/manifests/v3 Basic" in reg.log  # sent up front, no 401 first
    assert not any(e.startswith("GET /token") for e in reg.log)

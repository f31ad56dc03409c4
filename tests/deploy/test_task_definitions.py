"""ECS JSON files against botocore's own ECS model, plus the Fargate rules it cannot know."""

from __future__ import annotations

import copy
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from deploy_files import SERVICE, TASKDEF, agent_toml, load_json, template

# Fargate's valid task sizes: cpu units -> allowed memory (MiB).
FARGATE_SIZES = {
    "256": {512, 1024, 2048},
    "512": set(range(1024, 4097, 1024)),
    "1024": set(range(2048, 8193, 1024)),
    "2048": set(range(4096, 16385, 1024)),
    "4096": set(range(8192, 30721, 1024)),
}
FARGATE_MAX_STOP_TIMEOUT = 120


def problems(params: dict[str, Any], operation: str) -> str:
    """botocore's client-side validation: the same check `aws ecs ...` runs before sending."""
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    return report.generate_report() if report.has_errors() else ""


@pytest.mark.parametrize(
    ("path", "operation"),
    [
        (TASKDEF, "RegisterTaskDefinition"),
        (SERVICE, "CreateService"),
    ],
    ids=["task-definition", "service"],
)
def test_matches_botocore_model(path: Any, operation: str) -> None:
    assert problems(load_json(path), operation) == ""


def test_misspelled_key_and_wrong_type_are_rejected() -> None:
    """The check above can fail: a typo or a string where ECS wants a number is caught."""
    good = load_json(TASKDEF)
    typo = copy.deepcopy(good)
    c = typo["containerDefinitions"][0]
    c["linuxParameter"] = c.pop("linuxParameters")
    report = problems(typo, "RegisterTaskDefinition")
    assert "Unknown parameter in containerDefinitions[0]" in report and "linuxParameter" in report
    wrong = copy.deepcopy(good)
    wrong["containerDefinitions"][0]["stopTimeout"] = "30"
    assert "Invalid type for parameter" in problems(wrong, "RegisterTaskDefinition")


def test_fargate_shape() -> None:
    td = load_json(TASKDEF)
    assert td["requiresCompatibilities"] == ["FARGATE"] and td["networkMode"] == "awsvpc"
    assert int(td["memory"]) in FARGATE_SIZES[td["cpu"]]
    assert td["taskRoleArn"] and td["executionRoleArn"]


def test_guarded_container() -> None:
    (app,) = load_json(TASKDEF)["containerDefinitions"]
    # SYS_PTRACE is the only capability Fargate lets a task add; nothing is dropped.
    assert app["linuxParameters"]["capabilities"] == {"add": ["SYS_PTRACE"]}
    assert app["essential"] is True
    shutdown = agent_toml()["agent"]["shutdown_timeout_secs"]
    # ECS SIGKILLs after stopTimeout: leave the agent its flush deadline plus a margin.
    assert shutdown + 5 <= app["stopTimeout"] <= FARGATE_MAX_STOP_TIMEOUT
    log = app["logConfiguration"]
    assert log["logDriver"] == "awslogs"
    assert {"awslogs-group", "awslogs-region", "awslogs-stream-prefix"} <= set(log["options"])
    default_group = template()["Parameters"]["AppLogGroupName"]["Default"]
    assert log["options"]["awslogs-group"] == default_group
    assert app["healthCheck"]["command"][0] in ("CMD", "CMD-SHELL")


def test_webhook_token_comes_from_secrets() -> None:
    (app,) = load_json(TASKDEF)["containerDefinitions"]
    secrets = {s["name"]: s["valueFrom"] for s in app["secrets"]}
    env_names = {e["name"] for e in app.get("environment", [])}
    for name, sink in agent_toml()["sinks"].items():
        token_env = sink.get("auth", {}).get("token_env")
        if token_env:
            assert token_env in secrets, f"sink {name}: {token_env} not in the task's secrets"
            assert token_env not in env_names, "a token must not be a plain environment value"
            assert secrets[token_env].startswith(("arn:aws:secretsmanager:", "arn:aws:ssm:"))


def test_service_platform_version() -> None:
    svc = load_json(SERVICE)
    assert svc["launchType"] == "FARGATE"
    major, minor, _ = (int(x) for x in svc["platformVersion"].split("."))
    assert (major, minor) >= (1, 4)  # SYS_PTRACE and pidMode task need 1.4.0
    assert svc["taskDefinition"] == load_json(TASKDEF)["family"]

"""deploy/tracehound.toml loads with the agent's own config code and matches the stack."""

from __future__ import annotations

import pytest
from deploy_files import AGENT_CONFIG, TASKDEF, load_json, template

from tracehound.agent.config import load_config
from tracehound.sinks.aws_lambda import LambdaSinkConfig
from tracehound.sinks.cloudwatch import CloudWatchLogsSinkConfig


def test_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    # On ECS the value comes from the task's secrets; validation checks it is set.
    monkeypatch.setenv("TRACEHOUND_WEBHOOK_TOKEN", "test-token")
    cfg = load_config(AGENT_CONFIG)
    types = {name: type(s).__name__ for name, s in cfg.sinks.items()}
    assert types == {
        "cloudwatch": "CloudWatchLogsSinkConfig",
        "responder": "LambdaSinkConfig",
        "siem": "WebhookSinkConfig",
        "console": "ConsoleSinkConfig",
    }
    assert cfg.sinks["responder"].minimum_priority == "Critical"


def test_names_match_the_stack_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEHOUND_WEBHOOK_TOKEN", "test-token")
    cfg = load_config(AGENT_CONFIG)
    params = template()["Parameters"]
    cloudwatch, responder = cfg.sinks["cloudwatch"], cfg.sinks["responder"]
    assert isinstance(cloudwatch, CloudWatchLogsSinkConfig)
    assert isinstance(responder, LambdaSinkConfig)
    assert cloudwatch.group_name == params["AlertLogGroupName"]["Default"]
    assert responder.function_name == params["ResponderFunctionName"]["Default"]


def test_shutdown_deadline_fits_stop_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEHOUND_WEBHOOK_TOKEN", "test-token")
    cfg = load_config(AGENT_CONFIG)
    (app,) = load_json(TASKDEF)["containerDefinitions"]
    assert cfg.agent.shutdown_timeout_secs < app["stopTimeout"]

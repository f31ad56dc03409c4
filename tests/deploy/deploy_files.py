"""Loaders for the deployment files, shared by the tests."""

from __future__ import annotations

import json
import tomllib
from functools import cache
from typing import Any

from cfnlint.decode import decode
from deploy_paths import DEPLOY

TASKDEF = DEPLOY / "ecs" / "task-definition.json"
SERVICE = DEPLOY / "ecs" / "service.json"
TEMPLATE = DEPLOY / "cloudformation" / "tracehound.yaml"
AGENT_CONFIG = DEPLOY / "tracehound.toml"


def load_json(path: Any) -> Any:
    return json.loads(path.read_text())


def agent_toml() -> dict[str, Any]:
    return tomllib.loads(AGENT_CONFIG.read_text())


@cache
def template() -> Any:
    """The CloudFormation template with its short-form tags (!Ref, !Sub) decoded."""
    tpl, errors = decode(str(TEMPLATE))
    assert not errors, errors
    return tpl


def resources(type_: str) -> dict[str, Any]:
    return {k: v for k, v in template()["Resources"].items() if v["Type"] == type_}


def policy_statements(role: str) -> dict[str, Any]:
    props = template()["Resources"][role]["Properties"]
    stmts = props["Policies"][0]["PolicyDocument"]["Statement"]
    out: dict[str, Any] = {}
    for s in stmts:
        if "Fn::If" in s:  # conditional statement: [condition, then, else]
            s = s["Fn::If"][1]
        out[s["Sid"]] = s
    return out


def actions(stmt: dict[str, Any]) -> set[str]:
    a = stmt["Action"]
    return {a} if isinstance(a, str) else set(a)

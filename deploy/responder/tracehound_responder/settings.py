"""The responder's configuration: environment variables set by the CloudFormation stack."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from tracehound_responder.plan import parse_priority

ACTIONS = ("stop", "notify")


@dataclass(frozen=True)
class Settings:
    # "stop": StopTask on the offending task, then notify; "notify": notify only.
    action: str = "notify"
    # Alerts below this priority are ignored (Falco names, case-insensitive).
    minimum_priority: str = "Critical"
    # SNS topic for notifications; empty = log only.
    topic_arn: str = ""
    # Cluster names the responder may stop tasks in; empty = any (IAM still decides).
    allowed_clusters: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        action = env.get("RESPONDER_ACTION", "notify").strip().lower()
        if action not in ACTIONS:
            raise ValueError(f"RESPONDER_ACTION must be one of {ACTIONS}, got {action!r}")
        clusters = env.get("RESPONDER_ALLOWED_CLUSTERS", "")
        return cls(
            action=action,
            minimum_priority=parse_priority(env.get("RESPONDER_MINIMUM_PRIORITY", "Critical")),
            topic_arn=env.get("RESPONDER_TOPIC_ARN", "").strip(),
            allowed_clusters=frozenset(c.strip() for c in clusters.split(",") if c.strip()),
        )

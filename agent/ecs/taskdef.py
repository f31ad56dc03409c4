"""Task definitions as users bring them: RegisterTaskDefinition input, or the output
of describe-task-definition, whose read-only fields RegisterTaskDefinition refuses."""

from __future__ import annotations

from typing import Any

# Fields describe-task-definition returns that RegisterTaskDefinition does not take.
READ_ONLY = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
)


def registrable(doc: dict[str, Any]) -> dict[str, Any]:
    """RegisterTaskDefinition input from either form (tags kept when present)."""
    if "taskDefinition" in doc and isinstance(doc["taskDefinition"], dict):
        td = dict(doc["taskDefinition"])
        if doc.get("tags"):
            td["tags"] = doc["tags"]
    else:
        td = dict(doc)
    for key in READ_ONLY:
        td.pop(key, None)
    if "containerDefinitions" not in td:
        raise ValueError("not a task definition: no containerDefinitions")
    return td

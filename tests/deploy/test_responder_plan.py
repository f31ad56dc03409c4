"""The responder's decision logic, without AWS."""

from __future__ import annotations

import pytest
from deploy_payload import alert, event_only
from tracehound_responder.plan import cluster_of, make_plan, parse_priority, rank
from tracehound_responder.settings import Settings

TASK = "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef"
OLD_TASK = "arn:aws:ecs:us-east-1:123456789012:task/0123456789abcdef"


def test_priorities_match_the_agents() -> None:
    from tracehound_responder import plan

    from tracehound.event import PRIORITIES

    assert plan.PRIORITIES == PRIORITIES
    assert rank("info") == rank("Informational") and rank("nonsense") == len(PRIORITIES)
    with pytest.raises(ValueError):
        parse_priority("severe")


def test_groups_by_task_and_keeps_threshold() -> None:
    other = TASK.replace("0123", "9999")
    records = [
        alert("Critical", "Reverse shell", TASK, None),
        alert("Emergency", "Kernel module", TASK, None),
        alert("Warning", "Write below etc", other, None),
        alert("Alert", "Shell in container", other, None),
        alert("Critical", "No task", None, None),
        event_only(TASK),
    ]
    plan = make_plan(records, "critical")
    assert [t.task_arn for t in plan.tasks] == [TASK, other]
    assert [len(t.alerts) for t in plan.tasks] == [2, 1]
    assert len(plan.taskless) == 1 and plan.ignored == 2
    reason = plan.tasks[0].reason()
    assert "Emergency" in reason and "Kernel module" in reason and "1 more" in reason
    assert len(reason) <= 255


def test_reason_is_capped() -> None:
    plan = make_plan([alert("Critical", "x" * 400, TASK, None)], "Critical")
    assert len(plan.tasks[0].reason()) == 255


def test_cluster_from_field_or_arn() -> None:
    assert cluster_of({"output_fields": {"aws.ecs.cluster": "blue"}}, TASK) == "blue"
    assert cluster_of({}, TASK) == "prod"
    assert cluster_of({}, OLD_TASK) == "default"


def test_settings_from_env() -> None:
    s = Settings.from_env(
        {
            "RESPONDER_ACTION": "STOP",
            "RESPONDER_MINIMUM_PRIORITY": "error",
            "RESPONDER_ALLOWED_CLUSTERS": "a, b,",
        }
    )
    assert (s.action, s.minimum_priority, s.allowed_clusters) == ("stop", "Error", {"a", "b"})
    assert Settings.from_env({}).action == "notify"
    with pytest.raises(ValueError):
        Settings.from_env({"RESPONDER_ACTION": "kill"})

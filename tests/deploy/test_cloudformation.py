"""The CloudFormation stack: cfn-lint clean, one metric filter per priority, tight IAM."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from deploy_files import TEMPLATE, actions, load_json, policy_statements, resources, template
from deploy_paths import DEPLOY

from tracehound.event import PRIORITIES

LINT = "import sys; from cfnlint.runner import main; sys.exit(main())"


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LINT, str(path)], capture_output=True, text=True, timeout=120
    )


def test_cfn_lint_passes() -> None:
    done = cfn_lint(TEMPLATE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_cfn_lint_catches_a_typo(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(TEMPLATE.read_text().replace("RetentionInDays:", "RetentionDays:", 1))
    done = cfn_lint(bad)
    assert done.returncode != 0 and "RetentionDays" in done.stdout


def test_a_metric_filter_per_priority() -> None:
    patterns = {
        r["Properties"]["FilterPattern"]: r["Properties"]
        for r in resources("AWS::Logs::MetricFilter").values()
    }
    assert set(patterns) == {f'{{ $.priority = "{p}" }}' for p in PRIORITIES}
    for props in patterns.values():
        assert props["LogGroupName"] == {"Ref": "AlertLogGroup"}
        (mt,) = props["MetricTransformations"]
        assert (mt["MetricNamespace"], mt["MetricName"]) == ("Tracehound", "Alerts")


def test_alarms_page_through_the_topic() -> None:
    alarms = resources("AWS::CloudWatch::Alarm")
    by_priority = {
        a["Properties"]["Dimensions"][0]["Value"]: a
        for a in alarms.values()
        if a["Properties"]["Namespace"] == "Tracehound"
    }
    assert set(by_priority) == set(PRIORITIES[:6])  # Emergency .. Notice
    for prio, alarm in by_priority.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlertTopic"}]
        # Emergency, Alert, Critical always alarm; the rest follow AlarmMinimumPriority.
        assert ("Condition" in alarm) == (prio not in PRIORITIES[:3])
    (sub,) = resources("AWS::SNS::Subscription").values()
    assert sub["Properties"]["Protocol"] == "email"
    assert sub["Properties"]["Endpoint"] == {"Ref": "AlertEmail"}


def test_responder_handler_and_code_path() -> None:
    fn = template()["Resources"]["ResponderFunction"]["Properties"]
    code = (TEMPLATE.parent / fn["Code"]).resolve()
    assert code == (DEPLOY / "responder").resolve()
    module, func = fn["Handler"].rsplit(".", 1)
    assert (code / (module.replace(".", "/") + ".py")).is_file()
    import tracehound_responder.handler as h

    assert callable(getattr(h, func))
    env = fn["Environment"]["Variables"]
    assert set(env) == {
        "RESPONDER_ACTION",
        "RESPONDER_MINIMUM_PRIORITY",
        "RESPONDER_TOPIC_ARN",
        "RESPONDER_ALLOWED_CLUSTERS",
    }


def test_responder_role_is_least_privilege() -> None:
    stmts = policy_statements("ResponderRole")
    assert {s: actions(v) for s, v in stmts.items()} == {
        "OwnLogs": {"logs:CreateLogStream", "logs:PutLogEvents"},
        "StopTasksInTheGuardedCluster": {"ecs:StopTask"},
        "Notify": {"sns:Publish"},
    }
    stop = stmts["StopTasksInTheGuardedCluster"]["Resource"]["Fn::Sub"]
    assert stop.endswith(":task/${ClusterName}/*")


def _same_policy(role: str, json_name: str) -> None:
    """The standalone JSON policy (for IAM managed elsewhere) matches the stack's."""
    doc = load_json(DEPLOY / "ecs" / json_name)
    cfn = policy_statements(role)
    assert {s["Sid"]: actions(s) for s in doc["Statement"]} == {
        sid: actions(s) for sid, s in cfn.items()
    }
    for s in doc["Statement"]:
        if s["Resource"] == "*":
            assert s["Sid"] == "EcrAuth"  # GetAuthorizationToken has no resource scoping


def test_task_role_matches_json_policy() -> None:
    _same_policy("TaskRole", "task-role-policy.json")
    doc = load_json(DEPLOY / "ecs" / "task-role-policy.json")
    # Exactly what the sinks call: PutLogEvents, CreateLogStream (first write to a new
    # stream), DescribeLogStreams (healthcheck), Invoke (and its DryRun healthcheck).
    assert set().union(*(actions(s) for s in doc["Statement"])) == {
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
        "lambda:InvokeFunction",
    }


def test_execution_role_matches_json_policy() -> None:
    _same_policy("ExecutionRole", "execution-role-policy.json")


def test_task_role_trust_matches_json() -> None:
    doc = load_json(DEPLOY / "ecs" / "task-role-trust-policy.json")
    (cfn,) = template()["Resources"]["TaskRole"]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ]
    (stmt,) = doc["Statement"]
    assert stmt["Principal"] == cfn["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert {k: set(v) for k, v in stmt["Condition"].items()} == {
        k: set(v) for k, v in cfn["Condition"].items()
    }

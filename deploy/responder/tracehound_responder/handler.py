"""Lambda entry point: plan, stop each offending task once, notify.

Invoked by tracehound's lambda sink with one JSON array of records. Errors on one
task do not keep the others from being stopped; they are raised at the end so
Lambda's retry of asynchronous invocations gets another go (StopTask on a task
already stopping is harmless).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3

from tracehound_responder.plan import Plan, TaskAction, cluster_name, make_plan, rank
from tracehound_responder.settings import Settings

log = logging.getLogger("tracehound_responder")
log.setLevel(logging.INFO)

SUBJECT_MAX = 100  # SNS limit for email subjects


class ResponderError(RuntimeError):
    pass


def _may_stop(settings: Settings, action: TaskAction) -> bool:
    if settings.action != "stop":
        return False
    allowed = settings.allowed_clusters
    return not allowed or cluster_name(action.cluster) in allowed


def _notify(sns: Any, settings: Settings, plan: Plan, stopped: list[str]) -> None:
    if not settings.topic_arn or not plan.alerts:
        return
    worst = min(plan.alerts, key=lambda a: rank(str(a.get("priority"))))
    subject = f"tracehound: {len(plan.alerts)} alert(s), e.g. {worst.get('rule')}"[:SUBJECT_MAX]
    body = {"stopped_tasks": stopped, "alerts": plan.alerts}
    sns.publish(TopicArn=settings.topic_arn, Subject=subject, Message=json.dumps(body, indent=2))


def respond(event: Any, settings: Settings, ecs: Any, sns: Any) -> dict[str, Any]:
    plan = make_plan(event, settings.minimum_priority)
    stopped: list[str] = []
    failed: dict[str, str] = {}
    for action in plan.tasks:
        if not _may_stop(settings, action):
            continue
        try:
            ecs.stop_task(cluster=action.cluster, task=action.task_arn, reason=action.reason())
        except Exception as exc:  # one bad task must not spare the others
            failed[action.task_arn] = repr(exc)
            log.error("StopTask %s failed: %r", action.task_arn, exc)
        else:
            stopped.append(action.task_arn)
            log.warning("stopped %s: %s", action.task_arn, action.reason())
    _notify(sns, settings, plan, stopped)
    summary = {
        "alerts": len(plan.alerts),
        "ignored": plan.ignored,
        "stopped": stopped,
        "failed": failed,
        "taskless_alerts": len(plan.taskless),
    }
    log.info("summary %s", json.dumps(summary))
    if failed:
        raise ResponderError(f"StopTask failed for {sorted(failed)}")
    return summary


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    settings = Settings.from_env()
    # AWS_ENDPOINT_URL (honoured by boto3 itself) points these at a test server.
    return respond(event, settings, boto3.client("ecs"), boto3.client("sns"))

"""The Lambda responder against a moto server: real StopTask calls on real (fake) tasks."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from deploy_paths import DEPLOY
from deploy_payload import alert, event_only, lambda_payload
from tracehound_responder.handler import lambda_handler


def _network() -> dict[str, Any]:
    """awsvpc tasks get an ENI, so moto needs a subnet and a security group; moto's ENI
    code also needs DNS hostnames on the VPC (as Fargate does)."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=f"sg-{subnet}", Description="t", VpcId=vpc)
    return {"subnets": [subnet], "securityGroups": [sg["GroupId"]], "assignPublicIp": "DISABLED"}


def _run_task(cluster: str) -> tuple[Any, str]:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName=cluster)
    taskdef = json.loads((DEPLOY / "ecs" / "task-definition.json").read_text())
    for c in taskdef["containerDefinitions"]:  # moto wants a per-container figure; ECS does not
        c.setdefault("memoryReservation", 256)
    ecs.register_task_definition(**taskdef)
    task = ecs.run_task(
        cluster=cluster,
        taskDefinition=taskdef["family"],
        launchType="FARGATE",
        platformVersion="1.4.0",
        networkConfiguration={"awsvpcConfiguration": _network()},
    )["tasks"][0]
    return ecs, task["taskArn"]


def _status(ecs: Any, cluster: str, arn: str) -> tuple[str, str]:
    task = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
    return task["desiredStatus"], task.get("stoppedReason", "")


def _subscribe_queue(topic: str) -> Any:
    """An SQS queue on the topic, so the test can read what the responder published."""
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    boto3.client("sns").subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=qarn["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )

    def receive() -> str:
        msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        assert msgs, "nothing published"
        return str(msgs[0]["Body"])

    return receive


@pytest.fixture
def topic(aws_env: str) -> str:
    return str(boto3.client("sns").create_topic(Name="tracehound-alerts")["TopicArn"])


def test_critical_alert_stops_its_task(
    aws_env: str, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ecs, arn = _run_task("prod")
    _, bystander = _run_task("prod")
    cluster_arn = ecs.describe_clusters(clusters=["prod"])["clusters"][0]["clusterArn"]
    monkeypatch.setenv("RESPONDER_ACTION", "stop")
    monkeypatch.setenv("RESPONDER_MINIMUM_PRIORITY", "Critical")
    monkeypatch.setenv("RESPONDER_TOPIC_ARN", topic)
    monkeypatch.setenv("RESPONDER_ALLOWED_CLUSTERS", "prod")
    payload = lambda_payload(
        [
            alert("Critical", "Reverse shell", arn, cluster_arn),
            alert("Emergency", "Kernel module load", arn, cluster_arn),
            alert("Warning", "Write below etc", bystander, cluster_arn),
            event_only(bystander),
        ]
    )
    summary = lambda_handler(payload, None)
    assert summary["stopped"] == [arn]  # once, though it raised two alerts
    assert summary["ignored"] == 2 and summary["failed"] == {}
    desired, reason = _status(ecs, "prod", arn)
    assert desired == "STOPPED" and "Kernel module load" in reason
    assert _status(ecs, "prod", bystander)[0] == "RUNNING"


def test_cluster_parsed_from_task_arn(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ecs, arn = _run_task("blue")
    monkeypatch.setenv("RESPONDER_ACTION", "stop")
    summary = lambda_handler(lambda_payload([alert("Alert", "Shell", arn, None)]), None)
    assert summary["stopped"] == [arn]
    assert _status(ecs, "blue", arn)[0] == "STOPPED"


def test_below_threshold_and_notify_mode_stop_nothing(
    aws_env: str, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ecs, arn = _run_task("green")
    monkeypatch.setenv("RESPONDER_ACTION", "stop")
    monkeypatch.setenv("RESPONDER_MINIMUM_PRIORITY", "Critical")
    summary = lambda_handler(lambda_payload([alert("Error", "Odd write", arn, "green")]), None)
    assert summary["stopped"] == [] and summary["ignored"] == 1

    monkeypatch.setenv("RESPONDER_ACTION", "notify")
    monkeypatch.setenv("RESPONDER_TOPIC_ARN", topic)
    inbox = _subscribe_queue(topic)
    summary = lambda_handler(lambda_payload([alert("Critical", "Shell", arn, "green")]), None)
    assert summary["stopped"] == [] and summary["alerts"] == 1
    assert _status(ecs, "green", arn)[0] == "RUNNING"
    message = json.loads(inbox())
    assert message["stopped_tasks"] == [] and message["alerts"][0]["rule"] == "Shell"


def test_cluster_outside_allow_list_is_not_stopped(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ecs, arn = _run_task("staging")
    monkeypatch.setenv("RESPONDER_ACTION", "stop")
    monkeypatch.setenv("RESPONDER_ALLOWED_CLUSTERS", "prod")
    summary = lambda_handler(lambda_payload([alert("Critical", "Shell", arn, "staging")]), None)
    assert summary["stopped"] == []
    assert _status(ecs, "staging", arn)[0] == "RUNNING"

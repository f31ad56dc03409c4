"""deploy/cloudformation/security-lake.yaml: cfn-lint clean, Security Lake's partition
layout, and a Parquet schema (the Glue table Firehose converts with) that holds every
attribute tracehound's OCSF encoder writes, with a matching type."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from cfnlint.decode import decode
from deploy_paths import DEPLOY

from tracehound.event import Alert, Event, ProcInfo
from tracehound.record import alert_record, event_record
from tracehound.sinks import ocsf

TEMPLATE = DEPLOY / "cloudformation" / "security-lake.yaml"
LINT = "import sys; from cfnlint.runner import main; sys.exit(main())"


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LINT, str(path)], capture_output=True, text=True, timeout=120
    )


def template() -> Any:
    tpl, errors = decode(str(TEMPLATE))
    assert not errors, errors
    return tpl


def test_cfn_lint_passes() -> None:
    done = cfn_lint(TEMPLATE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_cfn_lint_catches_a_bad_value(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        TEMPLATE.read_text().replace(
            "DeliveryStreamType: DirectPut", "DeliveryStreamType: Direct", 1
        )
    )
    done = cfn_lint(bad)
    assert done.returncode != 0 and "Direct" in done.stdout


def test_firehose_writes_parquet_in_security_lakes_layout() -> None:
    res = template()["Resources"]
    s3 = res["DeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
    prefix = s3["Prefix"]["Fn::Sub"]
    assert prefix.startswith("${CustomSource.Prefix}")
    assert (
        "region=${AWS::Region}/accountId=${AWS::AccountId}/eventDay=!{timestamp:yyyyMMdd}/"
        in prefix
    )
    conv = s3["DataFormatConversionConfiguration"]
    assert conv["Enabled"] is True
    assert "ParquetSerDe" in conv["OutputFormatConfiguration"]["Serializer"]
    assert conv["SchemaConfiguration"]["TableName"] == {"Ref": "SchemaTable"}
    assert s3["BucketARN"] == {"Fn::GetAtt": ["CustomSource", "BucketArn"]}
    # The task may only put records into this one stream.
    [stmt] = res["TaskPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert set(stmt["Action"]) == {"firehose:PutRecordBatch", "firehose:DescribeDeliveryStream"}
    assert stmt["Resource"] == {"Fn::GetAtt": ["DeliveryStream", "Arn"]}


def test_custom_resource_code_compiles_and_passes_every_property() -> None:
    res = template()["Resources"]
    code = res["CustomSourceFunction"]["Properties"]["Code"]["ZipFile"]
    compile(code, "index.py", "exec")
    props = set(res["CustomSource"]["Properties"]) - {"ServiceToken"}
    for name in props:
        assert f'"{name}"' in code, name
    assert len(code) <= 4096  # CloudFormation's limit for inline code


# ---- the Glue schema against the encoder ----------------------------------------------


def parse_hive(t: str) -> Any:
    """A Hive type string as a tree: "int" | ("array", T) | ("struct", {name: T})."""
    pos = 0

    def ident() -> str:
        nonlocal pos
        start = pos
        while pos < len(t) and (t[pos].isalnum() or t[pos] == "_"):
            pos += 1
        return t[start:pos]

    def typ() -> Any:
        nonlocal pos
        name = ident()
        if name == "array":
            pos += 1  # <
            inner = typ()
            pos += 1  # >
            return ("array", inner)
        if name == "struct":
            pos += 1
            fields = {}
            while t[pos] != ">":
                key = ident()
                pos += 1  # :
                fields[key] = typ()
                if t[pos] == ",":
                    pos += 1
            pos += 1
            return ("struct", fields)
        return name

    out = typ()
    assert pos == len(t), t
    return out


def fits(value: Any, hive: Any, where: str, problems: list[str]) -> None:
    if isinstance(value, bool):
        ok = hive == "boolean"
    elif isinstance(value, int):
        ok = hive == "bigint" or (hive == "int" and -(2**31) <= value < 2**31)
    elif isinstance(value, str):
        ok = hive == "string"
    elif isinstance(value, list):
        ok = isinstance(hive, tuple) and hive[0] == "array"
        if ok:
            for i, v in enumerate(value):
                fits(v, hive[1], f"{where}[{i}]", problems)
    elif isinstance(value, dict):
        ok = isinstance(hive, tuple) and hive[0] == "struct"
        if ok:
            for k, v in value.items():
                if k not in hive[1]:
                    problems.append(f"{where}.{k}: no column")
                else:
                    fits(v, hive[1][k], f"{where}.{k}", problems)
    else:
        ok = False
    if not ok:
        problems.append(f"{where}: {value!r} does not fit {hive}")


def sample_records() -> list[dict[str, Any]]:
    """The encoder's output for every syscall it maps, events and alerts, on ECS."""
    from tracehound.task import TaskInfo

    parent = ProcInfo(1, 0, "sh", "/bin/sh", ("sh",), "/", 0, 0)
    p = ProcInfo(42, 1, "curl", "/usr/bin/curl", ("curl", "x"), "/app", 1000, 1000, parent)
    fields = {
        "fd.name": "/etc/passwd", "fd.sip": "10.0.0.9", "fd.sport": 443, "fd.l4proto": "tcp",
        "fd.cip": "10.0.0.7", "fd.cport": 51000, "fd.lip": "10.0.0.7", "fd.lport": 8080,
        "evt.arg.oldpath": "/a", "evt.arg.newpath": "/b", "evt.arg.pid": 7, "evt.res": 0,
        "user.name": "app", "evt.arg.flags": 0,
    }  # fmt: skip
    ecs = {
        "container.id": "abc",
        "container.name": "app",
        "container.image": "r/app:1",
        "container.image.repository": "r/app",
        "container.image.tag": "1",
        "aws.ecs.task_arn": "arn:aws:ecs:us-east-1:111122223333:task/c/0123",
        "aws.ecs.availability_zone": "us-east-1a",
    }
    task = TaskInfo(ecs)
    out = []
    for etype in [*ocsf._ACTIVITY, "dup2", "socket"]:
        ev = Event(1_800_000_000_000_000_000, etype, 42, p, dict(fields))
        out.append(ocsf.to_ocsf(event_record(ev, task)))
        alert = Alert(ev, "r", "Critical", "m", ("t",), "u")
        out.append(ocsf.to_ocsf(alert_record(alert, task)))
    return out


def test_glue_schema_holds_every_attribute_the_encoder_writes() -> None:
    cols = template()["Resources"]["SchemaTable"]["Properties"]["TableInput"]
    columns = {c["Name"]: parse_hive(c["Type"]) for c in cols["StorageDescriptor"]["Columns"]}
    problems: list[str] = []
    for rec in sample_records():
        rec.pop("unmapped", None)  # Falco fields without an OCSF home: not in the Parquet
        fits(rec, ("struct", columns), "", problems)
    assert not sorted(set(problems)), sorted(set(problems))[:20]

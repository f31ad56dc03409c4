"""encoding = "ocsf": records of real traced programs, validated against the OCSF schema
extract (tests/sinks/ocsf/, from the published ocsf-schema release), on the file sink
(the agent end to end, with ECS task metadata) and the webhook sink (a real HTTP server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from ocsf_check import validate
from sinkhelp import FAST_REQUEST, Siem, make_alert, make_event, sink_cfg

from tracehound.agent.router import Router
from tracehound.record import alert_record, event_record
from tracehound.sinks.ocsf import OCSF_VERSION, to_ocsf

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "support"))
from th_support import AGENT  # noqa: E402

TASK_ARN = "arn:aws:ecs:us-west-2:111122223333:task/shop/0123456789abcdef0123456789abcdef"
CONTAINER = {
    "DockerId": "0123456789abcdef0123456789abcdef-1234567890",
    "Name": "app",
    "Image": "111122223333.dkr.ecr.us-west-2.amazonaws.com/shop/api:1.4.2",
    "Labels": {"com.amazonaws.ecs.task-arn": TASK_ARN, "com.amazonaws.ecs.cluster": "shop"},
}
TASK = {
    "Cluster": "shop",
    "TaskARN": TASK_ARN,
    "Family": "shop-api",
    "Revision": "7",
    "AvailabilityZone": "us-west-2b",
    "LaunchType": "FARGATE",
}

# What an intruder's first minute looks like: run programs, read a secret, drop a file,
# rename and chmod it, make a directory, delete, listen, connect and accept.
APP = r"""
import os, socket, subprocess
subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL)
with open("dropped.sh", "w") as f:
    f.write("echo hi\n")
os.rename("dropped.sh", "tool.sh")
os.chmod("tool.sh", 0o755)
os.mkdir("loot")
os.unlink("tool.sh")
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
c = socket.create_connection(srv.getsockname()); conn, _ = srv.accept()
c.close(); conn.close(); srv.close()
"""


@pytest.fixture
def ecs_metadata() -> Iterator[str]:
    """The ECS task metadata endpoint v4 (a stdlib server in a thread: the agent runs in
    a subprocess and calls it while the test waits)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            doc = TASK if self.path.endswith("/task") else CONTAINER
            body = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v4/abc"
    server.shutdown()
    server.server_close()


def test_agent_file_sink_ocsf_validates(tmp_path: Path, ecs_metadata: str) -> None:
    out = tmp_path / "ocsf.jsonl"
    cfg = tmp_path / "th.toml"
    cfg.write_text(
        f'[sinks.lake]\ntype = "file"\npath = "{out}"\nencoding = "ocsf"\n'
        'inputs = ["events", "alerts"]\n'
    )
    env = {**os.environ, "ECS_CONTAINER_METADATA_URI_V4": ecs_metadata}
    proc = subprocess.run(
        [*AGENT, "run", "--config", str(cfg), "--", sys.executable, "-c", APP],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    problems = {}
    for r in recs:
        errs = validate(r)
        if errs:
            problems[r.get("type_name")] = errs
    assert not problems, json.dumps(problems, indent=1)[:4000]
    by_type = {(r["class_uid"], r["activity_id"]) for r in recs}
    # Launch, Open (file), Rename, Set Security, Delete, Listen, Open (network)
    for want in [(1007, 1), (1001, 14), (1001, 5), (1001, 7), (1001, 4)]:
        assert want in by_type, (want, sorted(by_type))
    assert {(4001, 7), (4001, 1)} <= by_type, sorted(by_type)
    for r in recs:  # the task and container, on every record
        assert r["metadata"]["version"] == OCSF_VERSION
        assert r["cloud"] == {
            "provider": "AWS",
            "region": "us-west-2",
            "zone": "us-west-2b",
            "account": {"uid": "111122223333", "type_id": 10, "type": "AWS Account"},
        }
        assert r["device"]["uid"] == TASK_ARN
        assert r["device"]["container"]["name"] == "app"
        assert r["device"]["container"]["image"]["tag"] == "1.4.2"
    [launch] = [
        r
        for r in recs
        if r["class_uid"] == 1007 and r["activity_id"] == 1 and r["process"]["name"] == "cat"
    ]
    assert launch["process"]["cmd_line"] == "cat /etc/shadow"
    assert launch["actor"]["process"]["pid"] == launch["process"]["parent_process"]["pid"]
    [rename] = [r for r in recs if r["class_uid"] == 1001 and r["activity_id"] == 5]
    assert rename["file"]["name"] == "dropped.sh" and rename["file_result"]["name"] == "tool.sh"
    connects = [r for r in recs if r["class_uid"] == 4001 and r["activity_id"] == 1]
    assert any(
        r["dst_endpoint"].get("ip") == "127.0.0.1" and r["connection_info"]["direction_id"] == 2
        for r in connects
    )
    # The default rules flag the read of /etc/shadow: a Detection Finding with evidence.
    findings = [r for r in recs if r["class_uid"] == 2004]
    assert findings, sorted(by_type)
    shadow = [
        f
        for f in findings
        if any(e.get("file", {}).get("path") == "/etc/shadow" for e in f["evidences"])
    ]
    assert shadow, json.dumps(findings[0], indent=1)
    f = shadow[0]
    assert f["finding_info"]["analytic"]["type_id"] == 1 and f["finding_info"]["title"]
    assert f["evidences"][0]["process"]["name"] == "cat"
    assert f["severity_id"] >= 3 and f["is_alert"] is True


def test_every_class_and_mapped_syscall_validates() -> None:
    """Each syscall the encoder names, as an event and as an alert's evidence."""
    from tracehound.sinks import ocsf

    for etype in [*ocsf._ACTIVITY, "dup2", "kill", "socket"]:
        ev = make_event(
            1,
            **{"fd.sip": "10.0.0.1", "fd.sport": 443, "fd.l4proto": "tcp", "evt.res": -2},
        )
        object.__setattr__(ev, "type", etype)
        for rec in (event_record(ev), alert_record(make_alert(1))):
            rec["output_fields"]["evt.type"] = etype
            errs = validate(to_ocsf(rec))
            assert not errs, (etype, errs)


async def test_webhook_ocsf(siem: Siem) -> None:
    cfg = sink_cfg(
        type="webhook",
        url=siem.url,
        encoding="ocsf",
        inputs=["events", "alerts"],
        batch={"timeout_secs": 0.05},
        request=FAST_REQUEST,
    )
    siem.fail_next = 2  # an outage first: the OCSF batch is retried whole
    router = Router.from_config({"siem": cfg})
    await router.start()
    await router.route([make_event(i) for i in range(5)], [make_alert(9, "Critical")])
    await router.stop(30)
    assert len(siem.received) == 6
    for r in siem.received:
        assert not validate(r), validate(r)
    [finding] = [r for r in siem.received if r["class_uid"] == 2004]
    assert finding["severity_id"] == 5 and finding["finding_info"]["uid"] == "uuid-9"
    assert finding["evidences"][0]["file"]["path"] == "/tmp/f9"
    st = router.stats()["siem"]
    assert st["sent_records"] == 6 and st["dropped_total"] == 0 and st["retries"] >= 2

"""The custom resource of security-lake.yaml (its inline Lambda code, as deployed) run
against a stand-in of the Security Lake API: moto has no Security Lake, so a small HTTP
server answers CreateCustomLogSource, ListLogSources and DeleteCustomLogSource in the
API's REST-JSON shapes (botocore's model), and takes CloudFormation's response PUT.
`cfnresponse` (which Lambda provides to inline code) is written here the way its
protocol is documented: a PUT of the JSON result to the event's ResponseURL."""

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
from urllib.parse import parse_qs, urlsplit

import pytest
from cfnlint.decode import decode
from deploy_paths import DEPLOY

TEMPLATE = DEPLOY / "cloudformation" / "security-lake.yaml"
BUCKET = "aws-security-data-lake-us-east-1-7q2x9z"
PROVIDER_ROLE = "arn:aws:iam::123456789012:role/AmazonSecurityLake-Provider-"

CFNRESPONSE = """
import json, urllib.request
SUCCESS, FAILED = "SUCCESS", "FAILED"
def send(event, context, status, data, physical_id=None, no_echo=False, reason=None):
    body = json.dumps({"Status": status, "Reason": reason or "see the log",
        "PhysicalResourceId": physical_id or "none", "StackId": event["StackId"],
        "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": no_echo, "Data": data}).encode()
    req = urllib.request.Request(event["ResponseURL"], data=body, method="PUT",
                                 headers={"Content-Type": ""})
    urllib.request.urlopen(req, timeout=10).read()
"""


class Lake:
    """What the stand-in holds: custom sources, CloudFormation responses, calls made."""

    def __init__(self) -> None:
        self.sources: dict[tuple[str, str], dict[str, Any]] = {}
        self.responses: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str, Any]] = []
        self.deny_create = False


@pytest.fixture
def lake() -> Iterator[tuple[Lake, str]]:
    state = Lake()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, doc: Any, error: str | None = None) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if error:
                self.send_header("x-amzn-ErrorType", error)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> Any:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            return json.loads(raw) if raw else {}

        def do_PUT(self) -> None:  # CloudFormation's pre-signed response URL
            state.responses.append(self._body())
            self._answer(200, {})

        def do_POST(self) -> None:
            doc = self._body()
            path = urlsplit(self.path).path
            state.calls.append(("POST", path, doc))
            if path == "/v1/datalake/logsources/custom":
                key = (doc["sourceName"], doc["sourceVersion"])
                if state.deny_create:
                    return self._answer(403, {"message": "not allowed"}, "AccessDeniedException")
                if key in state.sources:
                    return self._answer(409, {"message": "exists"}, "ConflictException")
                src = {
                    "sourceName": key[0],
                    "sourceVersion": key[1],
                    "provider": {
                        "location": f"s3://{BUCKET}/ext/{key[0]}/{key[1]}/",
                        "roleArn": f"{PROVIDER_ROLE}{key[0]}",
                    },
                    "attributes": {},
                }
                state.sources[key] = src
                return self._answer(200, {"source": src})
            if path == "/v1/datalake/logsources/list":
                entries = [{"customLogSource": s} for s in state.sources.values()]
                return self._answer(
                    200,
                    {
                        "sources": [
                            {"account": "123456789012", "region": "us-east-1", "sources": entries}
                        ]
                    },
                )
            self._answer(404, {"message": path}, "ResourceNotFoundException")

        def do_DELETE(self) -> None:
            parts = urlsplit(self.path)
            name = parts.path.rsplit("/", 1)[-1]
            version = parse_qs(parts.query)["sourceVersion"][0]
            state.calls.append(("DELETE", name, version))
            if state.sources.pop((name, version), None) is None:
                return self._answer(404, {"message": "no such source"}, "ResourceNotFoundException")
            self._answer(200, {})

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def function_dir(tmp_path: Path) -> Path:
    tpl, errors = decode(str(TEMPLATE))
    assert not errors
    (tmp_path / "index.py").write_text(
        tpl["Resources"]["CustomSourceFunction"]["Properties"]["Code"]["ZipFile"]
    )
    (tmp_path / "cfnresponse.py").write_text(CFNRESPONSE)
    return tmp_path


def invoke(
    function_dir: Path, url: str, request: str, props: dict[str, Any], physical: str | None = None
) -> None:
    """Run index.handler(event, context) in a fresh interpreter, as Lambda would."""
    event: dict[str, Any] = {
        "RequestType": request,
        "ResponseURL": f"{url}/cfn-response",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/lake/1",
        "RequestId": "r1",
        "LogicalResourceId": "CustomSource",
        "ResourceProperties": {"ServiceToken": "arn:lambda", **props},
    }
    if physical:
        event["PhysicalResourceId"] = physical
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": str(function_dir),
    }
    code = "import json, sys, index; index.handler(json.loads(sys.argv[1]), None)"
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(event)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


PROPS = {
    "SourceName": "tracehound",
    "SourceVersion": "1.0",
    "EventClasses": ["PROCESS_ACTIVITY", "FILE_ACTIVITY", "NETWORK_ACTIVITY", "DETECTION_FINDING"],
    "ExternalId": "tracehound",
    "Principal": "123456789012",
    "CrawlerRoleArn": "arn:aws:iam::123456789012:role/crawler",
}


def test_create_update_and_delete(lake: tuple[Lake, str], function_dir: Path) -> None:
    state, url = lake
    invoke(function_dir, url, "Create", PROPS)
    [resp] = state.responses
    assert resp["Status"] == "SUCCESS" and resp["PhysicalResourceId"] == "tracehound/1.0"
    assert resp["Data"] == {
        "BucketArn": f"arn:aws:s3:::{BUCKET}",
        "Prefix": "ext/tracehound/1.0/",
        "Location": f"s3://{BUCKET}/ext/tracehound/1.0/",
        "ProviderRoleArn": f"{PROVIDER_ROLE}tracehound",
    }
    [create] = [c for c in state.calls if c[1] == "/v1/datalake/logsources/custom"]
    assert create[2] == {
        "sourceName": "tracehound",
        "sourceVersion": "1.0",
        "eventClasses": PROPS["EventClasses"],
        "configuration": {
            "crawlerConfiguration": {"roleArn": PROPS["CrawlerRoleArn"]},
            "providerIdentity": {"externalId": "tracehound", "principal": "123456789012"},
        },
    }
    # An update that keeps name and version finds the source: no second create.
    invoke(function_dir, url, "Update", PROPS, "tracehound/1.0")
    assert state.responses[-1]["Status"] == "SUCCESS"
    assert state.responses[-1]["Data"]["Prefix"] == "ext/tracehound/1.0/"
    assert sum(c[1] == "/v1/datalake/logsources/custom" for c in state.calls) == 1
    # A new version is a new source (CloudFormation then deletes the old physical id).
    invoke(function_dir, url, "Update", {**PROPS, "SourceVersion": "2.0"}, "tracehound/1.0")
    assert state.responses[-1]["PhysicalResourceId"] == "tracehound/2.0"
    invoke(function_dir, url, "Delete", PROPS, "tracehound/1.0")
    assert state.responses[-1]["Status"] == "SUCCESS"
    assert set(state.sources) == {("tracehound", "2.0")}
    # Deleting what is already gone succeeds (a stack rollback after a failed create).
    invoke(function_dir, url, "Delete", PROPS, "tracehound/1.0")
    assert state.responses[-1]["Status"] == "SUCCESS"
    assert ("DELETE", "tracehound", "1.0") in state.calls


def test_an_api_error_fails_the_resource_with_its_reason(
    lake: tuple[Lake, str], function_dir: Path
) -> None:
    state, url = lake
    state.deny_create = True
    invoke(function_dir, url, "Create", PROPS)
    [resp] = state.responses
    assert resp["Status"] == "FAILED" and "AccessDenied" in resp["Reason"]

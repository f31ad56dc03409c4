"""A local ECS task metadata v4 endpoint (the documents Fargate serves), in a thread."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CONTAINER = {
    "DockerId": "cd189a933e5849daa93386466019ab50-2495160603",
    "Name": "app",
    "Image": "public.ecr.aws/docker/library/python:3.12",
    "StartedAt": "2026-11-22T10:20:05.123456789Z",
    "Labels": {"com.amazonaws.ecs.cluster": "arn:aws:ecs:eu-west-1:111122223333:cluster/c"},
    "Volumes": [{"Source": "/var/lib/ecs/data", "Destination": "/data"}],
}
TASK = {
    "Cluster": "arn:aws:ecs:eu-west-1:111122223333:cluster/c",
    "TaskARN": "arn:aws:ecs:eu-west-1:111122223333:task/c/cd189a933e5849daa93386466019ab50",
    "Family": "app",
    "Revision": "3",
    "LaunchType": "FARGATE",
    "AvailabilityZone": "eu-west-1a",
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        doc: Any = TASK if self.path.rstrip("/").endswith("/task") else CONTAINER
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class EcsMetadata:
    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v4/abc"

    def __enter__(self) -> EcsMetadata:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

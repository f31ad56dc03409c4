"""The application of the container test: a small HTTP service with a remote code
execution hole (POST /run runs the body with sh), as an attacker would find one.

GET /  -> a fixed page;  POST /run -> runs the body, answers its exit status.
On SIGTERM (ECS's stop, forwarded by tracehound) it stops serving and exits 3, so
the test can tell the application's exit status from the agent's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STOP_STATUS = 3


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._reply(200, f"orders service, uid {os.getuid()}\n".encode())

    def do_POST(self) -> None:
        script = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        done = subprocess.run(["sh", "-c", script.decode()], capture_output=True, timeout=60)
        self._reply(200, f"{done.returncode}\n".encode() + done.stdout + done.stderr)

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"service: {format % args}\n")


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"service: listening on {server.server_address[1]}", flush=True)
    server.serve_forever()
    server.server_close()
    print("service: stopped", flush=True)
    sys.exit(STOP_STATUS)


if __name__ == "__main__":
    main()

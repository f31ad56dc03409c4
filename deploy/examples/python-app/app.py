"""A stand-in Python service for the tracehound example image: GET / and /healthz.

Standard library only, so the example image needs nothing installed.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok\n" if self.path == "/healthz" else b"orders service\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"app: {format % args}\n")


def main() -> None:
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler)
    # ECS stops a task with SIGTERM (forwarded by tracehound): shut down cleanly.
    signal.signal(signal.SIGTERM, lambda *_: server.shutdown())
    print(f"app: listening on {server.server_address[1]}", flush=True)
    t = threading.Thread(target=server.serve_forever)
    t.start()
    t.join()
    server.server_close()
    print("app: stopped", flush=True)


if __name__ == "__main__":
    main()

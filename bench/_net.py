"""Loopback helpers: free ports and waiting until a server accepts."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_listening(port: int, alive: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll until 127.0.0.1:port accepts; fail early once alive() says the server is gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("server exited before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on port {port} after {timeout} s")

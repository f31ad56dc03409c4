"""Attack step shared by the e2e attack scripts: connect to the link-local
credentials endpoints. UDP: connect() only sets the destination, so no packet
leaves this machine, yet the tracer sees the connect the rules look for."""

import contextlib
import socket

for ip in ("169.254.169.254", "169.254.170.2"):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, contextlib.suppress(OSError):
        s.connect((ip, 80))

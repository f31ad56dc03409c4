"""Listener for the reverse-shell step: accept one connection, tell the shell to exit.
usage: listener.py PORTFILE (the port is written there once listening)"""

import os
import socket
import sys

srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.settimeout(20)
conn, _ = srv.accept()
conn.sendall(b"exit\n")
conn.settimeout(5)
try:
    while conn.recv(4096):
        pass
except OSError:
    pass

"""A traced program that reports its own view of what the Falco fields describe.

usage: view.py OUT_JSON MARKER_PATH
Writes its view to OUT_JSON, then opens MARKER_PATH for writing (the event the test
rule fires on), fails an open, connects to its own listening socket, and stays alive
a little so the agent can read /proc while it exists.
"""

import contextlib
import json
import os
import socket
import sys
import time

out, marker = sys.argv[1], sys.argv[2]
t_start = time.time_ns()


def status(key: str) -> str:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split()[1]
    return ""


with open("/proc/self/stat") as f:
    stat = f.read().rsplit(")", 1)[1].split()
with open("/proc/self/loginuid") as f:
    loginuid = int(f.read())
sid = os.getsid(0)
# 0 when the session leader lives outside our pid namespace (a CI sandbox, a container).
sid_comm = None
if sid:
    with open(f"/proc/{sid}/comm") as f:
        sid_comm = f.read().strip()
with open(f"/proc/{os.getppid()}/cmdline", "rb") as f:
    parent_argv0 = f.read().split(b"\0")[0].decode()
exe = os.stat("/proc/self/exe")

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
port = listener.getsockname()[1]

view = {
    "pid": os.getpid(),
    "pgrp": os.getpgrp(),
    "sid": sid,
    "sid_comm": sid_comm,
    "tty_nr": int(stat[4]),
    "loginuid": loginuid,
    "cap_eff": int(status("CapEff"), 16),
    "cap_prm": int(status("CapPrm"), 16),
    "env_mark": os.environ.get("TH_MARK"),
    "cwd": os.getcwd(),
    "exe_ino": exe.st_ino,
    "exe_ctime": exe.st_ctime_ns,
    "exe_mtime": exe.st_mtime_ns,
    "parent_argv0": parent_argv0,
    "t_start": t_start,
    "port": port,
}
fd = os.open(marker, os.O_WRONLY | os.O_CREAT, 0o600)
view["marker_fd"] = fd
view["t_open"] = time.time_ns()
with contextlib.suppress(FileNotFoundError):
    os.open(marker + ".missing/x", os.O_RDONLY)
c = socket.create_connection(("127.0.0.1", port))
view["client_port"] = c.getsockname()[1]
with open(out, "w") as f:
    json.dump(view, f)
time.sleep(0.5)

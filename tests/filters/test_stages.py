"""Sensitive paths, sampling and enrichment stages."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracehound.filters.config import SensitivePathsConfig
from tracehound.filters.globs import glob_error, glob_to_regex
from tracehound.filters.sensitive import SensitivePaths

from .conftest import connect_ev, ev, exec_ev, make_chain, open_ev, proc

PY = proc("python3 app.py", exe="/usr/bin/python3.11", name="python3")


@pytest.mark.parametrize(
    ("path", "flags", "tagged"),
    [
        ("/etc/shadow", "O_RDONLY", True),
        ("/etc/shadow-", "O_RDONLY", False),
        ("/etc/sudoers.d/90-app", "O_RDONLY", True),
        ("/etc/passwd", "O_RDONLY", False),
        ("/etc/passwd", "O_WRONLY|O_APPEND", True),
        ("/etc/group", "O_RDWR", True),
        ("/root/.bashrc", "O_RDONLY", True),
        ("/rootfs/x", "O_RDONLY", False),
        ("/home/app/.ssh/authorized_keys", "O_RDONLY", True),
        ("/home/app/.sshx", "O_RDONLY", False),
        ("/srv/.aws/credentials", "O_RDONLY", True),
        ("/proc/42/environ", "O_RDONLY", True),
        ("/proc/42/task/1/environ", "O_RDONLY", False),
        ("/var/run/secrets/eks.amazonaws.com/token", "O_RDONLY", True),
        ("/opt/app/tls/server.key", "O_RDONLY", True),
        ("/opt/app/tls/server.crt", "O_RDONLY", False),
        ("/app/deploy_id_rsa", "O_RDONLY", False),
        ("/app/keys/id_rsa", "O_RDONLY", True),
    ],
)
def test_default_sensitive_paths(path: str, flags: str, tagged: bool) -> None:
    c = make_chain()
    e = open_ev(PY, path, flags)
    c.process([e])
    assert ("sensitive_path" in e.tags) is tagged


def test_sensitive_paths_on_modify_syscalls_and_custom_tag() -> None:
    sp = SensitivePaths(
        SensitivePathsConfig(
            tag="secret", prefixes=[], globs=["/data/**/*.db"], write_prefixes=["/cfg"]
        )
    )
    for e, want in [
        (ev("unlink", PY, fd__name="/cfg/a"), True),
        (ev("rename", PY, fd__name="/cfg/a"), True),
        (open_ev(PY, "/cfg/a"), False),
        (open_ev(PY, "/data/x/y/z.db"), True),
        (open_ev(PY, "/data/z.db"), True),
        (connect_ev(PY, "1.2.3.4", 80), False),
    ]:
        sp.process(e)
        assert ("secret" in e.tags) is want, e


def test_hundreds_of_patterns_compile_once_and_match() -> None:
    globs = [f"/srv/app{i}/**/*.secret" for i in range(300)] + [f"**/token{i}" for i in range(200)]
    prefixes = [f"/mnt/vault{i}" for i in range(300)]
    sp = SensitivePaths(SensitivePathsConfig(prefixes=prefixes, globs=globs, write_prefixes=[]))
    assert sp.matches("/srv/app299/a/b/c.secret", False)
    assert sp.matches("/mnt/vault12/k", False)
    assert sp.matches("/x/token199", False)
    assert not sp.matches("/srv/app300/a.secret", False)
    assert not sp.matches("/usr/lib/python3.11/os.py", False)


def test_glob_syntax() -> None:
    assert glob_error("/etc/[abc") is not None
    assert glob_error("etc/*") is not None
    assert glob_error("") is not None
    assert glob_error("/a/[!x]*/**") is None
    import re

    rx = re.compile(glob_to_regex("/a/*/c"))
    assert rx.fullmatch("/a/b/c") and not rx.fullmatch("/a/b/x/c")


# ---- sampling ----


def _reads(n: int, pid_count: int = 1) -> list:
    ps = [
        proc("python3 app.py", exe="/usr/bin/python3.11", pid=50_000 + i) for i in range(pid_count)
    ]
    return [ev("read", ps[i % pid_count], evt__arg__fd=5) for i in range(n)]


def test_sampling_rates_and_counts() -> None:
    c = make_chain(sampling={"rates": {"read": 0.1}})
    kept, _ = c.process(_reads(10_000))
    assert 800 < len(kept) < 1200
    st = c.stats()
    assert st["sampled_out"] == 10_000 - len(kept) == st["sampled_out.read"]


def test_sampling_never_drops_execs_or_alerting_events() -> None:
    c = make_chain(sampling={"rates": {"execve": 0.0, "openat": 0.0}})
    execs = [exec_ev(proc("ls", parent=PY)) for _ in range(50)]
    opens = [open_ev(PY, "/usr/lib/x.so") for _ in range(50)]
    shadow = [open_ev(proc("cat /etc/shadow"), "/etc/shadow") for _ in range(5)]
    kept, alerts = c.process(execs + opens + shadow)
    assert len(kept) == 55 and len(alerts) == 5
    assert c.stats()["sampled_kept_for_alert"] == 5


def test_sampling_per_process_is_deterministic() -> None:
    def kept_pids() -> set[int]:
        c = make_chain(sampling={"rates": {"read": 0.5}, "per_process": True})
        kept, _ = c.process(_reads(4000, pid_count=40))
        return {e.proc.pid for e in kept}

    first = kept_pids()
    assert 5 < len(first) < 35
    assert first == kept_pids()
    # a process is kept or dropped as a whole
    c = make_chain(sampling={"rates": {"read": 0.5}, "per_process": True})
    kept, _ = c.process(_reads(4000, pid_count=40))
    assert all(sum(1 for e in kept if e.proc.pid == p) == 100 for p in first)


# ---- enrichment (user names, ancestors; ECS is in test_ecs.py) ----


def test_user_names_and_ancestors(tmp_path: Path) -> None:
    (tmp_path / "passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n")
    (tmp_path / "group").write_text("root:x:0:\napp:x:1000:\n")
    c = make_chain(
        enrich={"passwd_file": str(tmp_path / "passwd"), "group_file": str(tmp_path / "group")}
    )
    gp = proc("bash", exe="/bin/bash")
    p = proc("python3 app.py", exe="/usr/bin/python3.11", parent=gp)
    child = proc("sh -c id", exe="/bin/sh", uid=1000, gid=1000, parent=p)
    e = exec_ev(child)
    c.process([e])
    assert e.fields["user.name"] == "app" and e.fields["group.name"] == "app"
    assert e.fields["proc.aname[2]"] == "bash"
    assert e.fields["proc.acmdline[3]"] == "tini --"
    e2 = ev("read", proc("x", uid=4242))
    c.process([e2])
    assert "user.name" not in e2.fields


def test_chain_stats() -> None:
    c = make_chain()
    c.process([open_ev(PY, f"/usr/lib/{i}.so") for i in range(1000)])
    st = c.stats()
    assert st["events_in"] == 1000 and st["alerts"] == 0

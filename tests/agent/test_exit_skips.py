"""Exit stops nobody needs (agent/tracer/skips.py), attacked.

With no sink taking events, an open of a single task whose result could not matter is
recorded from its entry alone once an equal one came back unsurprising. These runs
act out what an attacker would try against that shortcut, on every backend: a file
swapped for a symlink to /etc/shadow behind the application's back (by a process the
agent does not trace, as a sidecar sharing a volume could), a path flipped in a
MAP_SHARED page by a forked child (no thread: its own mm), a second thread
(swapopen), and a name on the path rebound by an untraced helper while the open
runs. Every read of /etc/shadow must still alert; and the shortcut must have
been taken where it is allowed (tracer stats `exits_skipped`), or the test proves
nothing. Without ptrace there is no exit stop to skip (and nothing is verified).
"""

from __future__ import annotations

import bisect
import datetime
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from th_support import AGENT, final_tracer_stats, with_backend

READ_SENSITIVE = "Read sensitive file by unexpected program"
CONFIG = '[filters.rules.rate_limit]\nrate = 0\n[sinks.out]\ntype = "file"\npath = "{path}"\n'
CONFIG += 'inputs = ["alerts"]\n'
EXITS = ("seccomp_notify", "ptrace")  # backends that take exit stops (and so can skip them)


Started = tuple[subprocess.Popen[str], Path]


def _start(
    tmp_path: Path, backend: str, argv: list[str], env: dict[str, str] | None = None, **kw: Any
) -> Started:
    records = tmp_path / "alerts.jsonl"
    config, prefix = with_backend(CONFIG.format(path=records), backend)
    cfg = tmp_path / "tracehound.toml"
    cfg.write_text(config)
    proc = subprocess.Popen(
        [*prefix, *AGENT, "run", "--config", str(cfg), "--", *argv],
        cwd=tmp_path, env={**os.environ, **(env or {})}, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, **kw,
    )  # fmt: skip
    return proc, records


def _finish(
    proc: subprocess.Popen[str], records: Path, stdin: str | None = None, timeout: float = 120
) -> tuple[str, Any, Any]:
    out, err = proc.communicate(stdin, timeout=timeout)
    assert proc.returncode == 0, err
    stats = final_tracer_stats(err)
    alerts = [json.loads(x) for x in records.read_text().splitlines()]
    return out, alerts, stats


def _past_seen(tmp_path: Path, backend: str, argv: list[str]) -> tuple[str, Any, Any]:
    """Run a program that says "seen" after its first reads, then waits for a line: the
    line comes once the verdicts on those reads have reached the core. Returns
    _finish's (stdout, alerts, tracer stats)."""
    proc, records = _start(tmp_path, backend, argv, stdin=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline() == "seen\n"
    time.sleep(0.5)
    return _finish(proc, records, "go\n")


def _count(out: str, label: str) -> int:
    """The number after `label` in a test program's output ("shadow 3 hostname 7")."""
    words = out.split()
    return int(words[words.index(label) + 1])


def _shadow_reads(alerts: list[dict[str, Any]], name: str) -> int:
    return sum(
        1
        for a in alerts
        if a["rule"] == READ_SENSITIVE
        and a["output_fields"].get("proc.name") == name
        and a["output_fields"].get("fd.name") == "/etc/shadow"
    )


# The shell reads `f` (its own process, no new task between: `read` is a builtin) a few
# times, waits for a line on stdin (the verdicts reach the core meanwhile), reads `f` 300
# times, says so, waits for a line on stdin, then reads `f` five times more.
SWAPPED_BEHIND = """
i=0
while [ $i -lt 20 ]; do read a < f; i=$((i+1)); done
echo seen
read line
i=0
while [ $i -lt 300 ]; do read a < f; i=$((i+1)); done
echo warm
read line
i=0
while [ $i -lt 5 ]; do read a < f; i=$((i+1)); done
"""


def _alerted_after(alerts: list[dict[str, Any]], name: str, since_ns: int) -> int:
    """Alerts for reads by `name` after `since_ns`: a sensitive read (under whatever
    name: a bind mount shows its own path), or "Path rebound" for a skipped open."""
    return sum(
        1
        for a in alerts
        if a["output_fields"].get("proc.name") == name
        and a["rule"] in (READ_SENSITIVE, PATH_REBOUND)
        and _alert_ns(a) >= since_ns
    )


# A relative path is looked at (`stat`) at each open; an absolute one is vouched for
# by the inotify events read since its verdict (README, "Exit stops nobody needs").
@pytest.mark.parametrize("spelled", ["relative", "absolute"])
def test_a_file_swapped_for_a_symlink_behind_the_agent_is_a_read_of_shadow(
    tmp_path: Path, tracer_backend: str, spelled: str
) -> None:
    (tmp_path / "f").write_text("harmless\n")
    script = (
        SWAPPED_BEHIND
        if spelled == "relative"
        else SWAPPED_BEHIND.replace("< f", f"< {tmp_path}/f")
    )
    proc, records = _start(tmp_path, tracer_backend, ["sh", "-c", script],
                           stdin=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline() == "seen\n"
    time.sleep(0.5)  # the verdicts on `f` have reached the core
    proc.stdin.write("on\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == "warm\n"
    # Untraced (this test process): as a sidecar sharing the volume would.
    os.symlink("/etc/shadow", tmp_path / "f.new")
    swapped = time.time_ns()
    os.replace(tmp_path / "f.new", tmp_path / "f")
    _, alerts, stats = _finish(proc, records, "go\n")
    if tracer_backend in EXITS:
        assert stats["exits_skipped"] >= 100, stats  # the warm reads took the shortcut
        # One alert per read of shadow. A relative path is looked at: each read is a
        # read of /etc/shadow. An absolute (vouched) one skips until the checker has
        # read the rename's event (a busy host: all 5 reads), and those reads are
        # "Path rebound". (Skipped warm reads checked after the rename are "Path
        # rebound" too: a rename just after an open looks like one during it.)
        assert _alerted_after(alerts, "sh", swapped) == 5, alerts
        if spelled == "relative":
            assert _shadow_reads(alerts, "sh") == 5, alerts
    else:
        assert stats["exits_skipped"] == 0, stats  # no exit stops at all: claims only


# The same reads through a symlinked directory (as /lib -> usr/lib on merged-/usr
# systems): `d/shadow`, d -> real (a harmless file named shadow), then d -> /etc.
THROUGH_A_LINK = SWAPPED_BEHIND.replace("< f", "< d/shadow")


@pytest.mark.parametrize("spelled", ["relative", "absolute"])
def test_reads_through_a_symlinked_directory_skip_until_it_leads_to_etc(
    tmp_path: Path, tracer_backend: str, spelled: str
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "shadow").write_text("harmless\n")
    os.symlink(tmp_path / "real", tmp_path / "d")
    script = THROUGH_A_LINK
    if spelled == "absolute":
        script = script.replace("< d/", f"< {tmp_path}/d/")
    proc, records = _start(tmp_path, tracer_backend, ["sh", "-c", script],
                           stdin=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline() == "seen\n"
    time.sleep(0.5)  # the verdicts on `d/shadow` have reached the core
    proc.stdin.write("on\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == "warm\n"
    os.symlink("/etc", tmp_path / "d.new")  # untraced, as a sidecar would
    swapped = time.time_ns()
    os.replace(tmp_path / "d.new", tmp_path / "d")
    _, alerts, stats = _finish(proc, records, "go\n")
    if tracer_backend in EXITS:
        assert stats["exits_skipped"] >= 100, stats  # the other name did not stop it
        assert _alerted_after(alerts, "sh", swapped) == 5, alerts  # as above
        if spelled == "relative":
            assert _shadow_reads(alerts, "sh") == 5, alerts
    else:
        assert stats["exits_skipped"] == 0, stats


def test_a_directory_mounted_over_by_an_untraced_process_is_seen(
    tmp_path: Path, tracer_backend: str
) -> None:
    """A mount makes no inotify event: a vouched path (absolute) under a directory
    that an untraced process (a privileged sidecar) bind-mounts /etc over leads to
    /etc/shadow with nothing queued. The checker's look after the open sees it lead
    elsewhere: "Path rebound" for that read, every verdict forgotten, and the reads
    after it take their exit (a read of /etc/shadow)."""
    d = tmp_path / "d"
    d.mkdir()
    (d / "shadow").write_text("harmless\n")
    script = SWAPPED_BEHIND.replace("< f", f"< {d}/shadow")
    proc, records = _start(tmp_path, tracer_backend, ["sh", "-c", script],
                           stdin=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline() == "seen\n"
    time.sleep(0.5)  # the verdicts have reached the core
    proc.stdin.write("on\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == "warm\n"
    since = time.time_ns()
    mounted = subprocess.run(["mount", "--bind", "/etc", str(d)], capture_output=True, text=True)
    if mounted.returncode != 0:
        proc.kill()
        proc.wait()
        pytest.skip(f"cannot bind-mount here: {mounted.stderr.strip()}")
    try:
        _, alerts, stats = _finish(proc, records, "go\n")
    finally:
        subprocess.run(["umount", str(d)], check=True)
    if tracer_backend in EXITS:
        assert stats["exits_skipped"] >= 100, stats
    # without ptrace the agent resolves each claim itself: the mount is in its view too
    assert _alerted_after(alerts, "sh", since) == 5, alerts


PATH_REBOUND = "Path rebound while an open ran"


def _alert_ns(alert: dict[str, Any]) -> int:
    """An alert's time ("2026-12-01T13:13:11.904567472Z": the record's) in ns."""
    day, frac = alert["time"].rstrip("Z").split(".")
    secs = datetime.datetime.fromisoformat(day).replace(tzinfo=datetime.UTC)
    return int(secs.timestamp()) * 1_000_000_000 + int(frac.ljust(9, "0"))


def _may_be_a_shadow_read(alert: dict[str, Any], name: str) -> bool:
    """A read of /etc/shadow by `name`, or an open of it whose path was rebound."""
    fields = alert["output_fields"]
    if fields.get("proc.name") != name:
        return False
    return alert["rule"] == PATH_REBOUND or (
        alert["rule"] == READ_SENSITIVE and fields.get("fd.name") == "/etc/shadow"
    )


@pytest.mark.parametrize("flip", ["rename", "exchange"])
def test_a_path_rebound_by_a_racing_sidecar_alerts_on_every_read_of_shadow(
    tmp_path: Path, tracer_backend: str, programs: dict[str, Path], flip: str
) -> None:
    """The race the shortcut invites: the agent looks where `f` leads (a harmless
    file, whose verdict says skip), then an untraced helper renames a symlink to
    /etc/shadow onto `f` (or exchanges the two names) before the kernel's lookup.
    Every open that read shadow must have an alert of its own: the read itself (exit
    taken) or the rebinding seen in the directory while that open ran (pathwatch.h)."""
    race = tmp_path / "race"
    race.mkdir()
    (race / "h").write_text("harmless\n")
    os.link(race / "h", race / "f")
    reads = tmp_path / "shadow-reads.txt"
    argv = [str(programs["raceread"]), str(race / "f"), "2000", "30000", str(reads)]
    proc, records = _start(tmp_path, tracer_backend, argv, stdin=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline() == "warm\n"
    time.sleep(0.5)  # the verdicts on `f` have reached the core
    flipper = subprocess.Popen([str(programs["flipper"]), str(race), flip])  # untraced
    try:
        out, alerts, stats = _finish(proc, records, "go\n", timeout=600)  # 5.10 VM: emulated
    finally:
        flipper.kill()
        flipper.wait()
    shadow = _count(out, "shadow")
    if tracer_backend not in EXITS:
        assert stats["exits_skipped"] == 0, stats  # no exit stops: claims only (README)
        return
    # The shortcut was taken, and raced. While the flipper renames, an open whose path
    # had an event read since its verdict takes the exit and is learned again: 25 to
    # 6,800 of the 32,000 opens skipped per run here, most of them raced.
    assert stats["exits_skipped"] >= 10, {k: v for k, v in stats.items() if "exit" in k}
    assert shadow >= 20, out  # the race was won often enough to prove something
    times = sorted(_alert_ns(a) for a in alerts if _may_be_a_shadow_read(a, "raceread"))
    unseen = []
    for line in reads.read_text().splitlines():
        t0, t1 = (int(x) for x in line.split())
        i = bisect.bisect_left(times, t0)
        if i == len(times) or times[i] > t1:
            unseen.append((t0, t1))
    assert not unseen, f"{len(unseen)} of {shadow} reads of shadow without an alert; {stats}"
    assert stats["exits_skipped_raced"] > 0, stats


# A service that rereads its config file, then replaces it atomically (write a
# temporary file, rename it over the old one), as configuration reloads do.
CONFIG_RELOAD = """
import os, sys, time
for n in range(5):
    for i in range(60):
        with open("conf") as f:
            f.read()
        time.sleep(0.002)
    with open("conf.tmp", "w") as f:
        f.write("version %d\\n" % n)
    os.replace("conf.tmp", "conf")
"""


def test_a_file_replaced_by_the_process_that_read_it_is_no_rebinding(
    tmp_path: Path, tracer_backend: str
) -> None:
    """The rename comes after the reads it follows, from the same process: no alert.
    The checker looks at a skipped open after its thread's next stop, so it must
    have looked before a traced rename at that stop goes on."""
    (tmp_path / "conf").write_text("version -1\n")
    proc, records = _start(tmp_path, tracer_backend, [sys.executable, "-c", CONFIG_RELOAD])
    _, alerts, stats = _finish(proc, records)
    if tracer_backend not in EXITS:
        assert stats["exits_skipped"] == 0, stats
        return
    assert stats["exits_skipped"] >= 100, stats  # rereads of conf skipped their exit
    assert not [a["output_fields"] for a in alerts if a["rule"] == PATH_REBOUND], stats


# A spool reader: each file is read a few times, then deleted (a queue, a lock file).
READ_THEN_DELETE = """
import os, time
for n in range(150):
    for i in range(20):
        with open("spool/%d" % n) as f:
            f.read()
        time.sleep(0.0002)
    os.unlink("spool/%d" % n)
"""


def test_a_file_deleted_after_it_was_read_is_no_rebinding(
    tmp_path: Path, tracer_backend: str
) -> None:
    """The checker looks at a skipped open after the thread's next stop, when the
    file may be gone: a path that leads nowhere now was not redirected (before the
    fix, 400-450 false "Path rebound" alerts per run of this program)."""
    (tmp_path / "spool").mkdir()
    for n in range(150):
        (tmp_path / "spool" / str(n)).write_text("job\n")
    proc, records = _start(tmp_path, tracer_backend, [sys.executable, "-c", READ_THEN_DELETE])
    _, alerts, stats = _finish(proc, records)
    if tracer_backend not in EXITS:
        assert stats["exits_skipped"] == 0, stats
        return
    assert stats["exits_skipped"] >= 500, stats
    assert not [a["output_fields"] for a in alerts if a["rule"] == PATH_REBOUND], stats


def test_a_path_flipped_in_shared_memory_by_a_child_is_never_trusted(
    tmp_path: Path, tracer_backend: str, programs: dict[str, Path]
) -> None:
    proc, records = _start(tmp_path, tracer_backend, [str(programs["sharedswap"]), "300", "400"])
    out, alerts, stats = _finish(proc, records)
    shadow = _count(out, "shadow")
    assert shadow > 0, out  # the flips landed, or the test proves nothing
    if tracer_backend in EXITS:
        assert _shadow_reads(alerts, "sharedswap") == shadow, (out, stats)
        # The path is in a shared page: none of its opens skipped the exit stop.
        assert stats["exits_skipped"] < 10, stats


@pytest.mark.parametrize("mode", ["fixed", "hint", "mremap", "shmat", "file", "vfork"])
def test_a_page_mapped_under_a_trusted_claim_is_never_trusted(
    tmp_path: Path, tracer_backend: str, programs: dict[str, Path], mode: str
) -> None:
    """The core trusts a claim in a private anonymous mapping without looking at its
    page at every open, because whatever could put another process's page there stops
    the task first. Acted out: a claim the core has learned to trust (its opens skip),
    then, at the same address, a shared page (mmap MAP_FIXED; munmap then a hint;
    mremap onto it; shmat; mmap by a vfork child, whose memory is the task's) or a
    private mapping of a file, flipped between a harmless file and /etc/shadow by a
    child. Every open that got /etc/shadow must alert."""
    harmless = tmp_path / "h"
    harmless.write_text("harmless\n")
    argv = [str(programs["remapswap"]), str(harmless), mode, "400"]
    out, alerts, stats = _past_seen(tmp_path, tracer_backend, argv)
    shadow = _count(out, "shadow")
    assert shadow > 0, out  # the flips landed, or the test proves nothing
    if tracer_backend in EXITS:
        assert f"{mode} at the claim" in out, out  # else the trusted claim was not attacked
        assert stats["exits_skipped"] >= 10, stats  # the trusted claim took the shortcut
        assert _shadow_reads(alerts, "remapswap") == shadow, (out, stats)


CREDENTIALS = "Contact credentials endpoint"
METADATA = "169.254.169.254"


def _metadata_routable() -> None:
    """A UDP connect only needs a route; a host without one (the kernel VMs have only
    loopback) cannot act these out."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect((METADATA, 80))
        except OSError as exc:
            pytest.skip(f"no route to {METADATA} here ({exc.strerror})")


def _alerts(alerts: list[dict[str, Any]], rule: str, name: str) -> int:
    return sum(
        1 for a in alerts if a["rule"] == rule and a["output_fields"].get("proc.name") == name
    )


def test_connects_skip_but_not_the_one_to_the_metadata_address(
    tmp_path: Path, tracer_backend: str, programs: dict[str, Path]
) -> None:
    """A loopback connect repeated from private memory skips its exit; every tenth
    connect goes to 169.254.169.254 instead, and each of those alerts."""
    _metadata_routable()
    argv = [str(programs["sharedconnect"]), "200", "300", "private"]
    proc, records = _start(tmp_path, tracer_backend, argv)
    out, alerts, stats = _finish(proc, records)
    metadata = _count(out, "metadata")
    assert metadata == 30, out
    assert _alerts(alerts, CREDENTIALS, "sharedconnect") == metadata, (out, stats)
    if tracer_backend in EXITS:
        assert stats["exits_skipped"] >= 100, stats  # the loopback connects took it


def test_a_connect_flipped_in_shared_memory_by_a_child_is_never_trusted(
    tmp_path: Path, tracer_backend: str, programs: dict[str, Path]
) -> None:
    _metadata_routable()
    proc, records = _start(tmp_path, tracer_backend, [str(programs["sharedconnect"]), "200", "300"])
    out, alerts, stats = _finish(proc, records)
    metadata = _count(out, "metadata")
    assert metadata > 0, out  # the flips landed, or the test proves nothing
    if tracer_backend in EXITS:
        assert _alerts(alerts, CREDENTIALS, "sharedconnect") == metadata, (out, stats)
        # The address is in a shared page: none of its connects skipped the exit stop.
        assert stats["exits_skipped"] < 10, stats


# Fargate's kernel: no killable wait (an open whose exit is wanted is interrupted and
# restarted, re-reading its path), no SYNC_WAKE_UP (one notify thread per CPU).
FARGATE = {"TRACEHOUND_KERNEL_FEATURES_OFF": "sync_wakeup,wait_killable_recv"}


@pytest.mark.parametrize("env", [None, FARGATE], ids=["6.18", "fargate"])
def test_an_open_swapped_by_another_thread_still_alerts_every_time(
    tmp_path: Path, tracer_backend: str, programs: dict[str, Path], env: dict[str, str] | None
) -> None:
    if env and tracer_backend != "seccomp_notify":
        pytest.skip("the mask only changes how seccomp_notify takes exits")
    argv = [str(programs["swapopen"]), "400"]
    proc, records = _start(tmp_path, tracer_backend, argv, env)
    out, alerts, stats = _finish(proc, records)
    if env:  # each open interrupted, restarted (re-reading the path), then let through
        assert stats["exits_after_restart"] >= 400, stats
    shadow = _count(out, "shadow")
    if tracer_backend in EXITS:
        assert _shadow_reads(alerts, "swapopen") == shadow, out


def _jail_with_shadow(tmp_path: Path) -> Path | None:
    """A directory holding `s`, a hardlink of /etc/shadow (the same filesystem as /etc:
    here, or else /var/tmp), checked by inode (some overlays copy instead)."""
    for d in (tmp_path / "jail", Path(f"/var/tmp/th-jail-{os.getpid()}")):
        d.mkdir(exist_ok=True)
        try:
            os.link("/etc/shadow", d / "s")
        except OSError:
            d.rmdir()
            continue
        if os.path.samefile(d / "s", "/etc/shadow"):
            return d
        (d / "s").unlink()
        d.rmdir()
    return None


def test_a_read_of_shadow_behind_chroot_alerts_every_time(
    tmp_path: Path, tracer_backend: str, programs: dict[str, Path]
) -> None:
    """The agent looked a claimed absolute path up in its own root. After chroot(jail)
    the application's "/s" is the jail's hardlink of /etc/shadow, while for the agent
    it is still the missing file whose failed opens it learned to skip. Now chroot
    (pivot_root, unshare, setns) is traced whatever the rules, after it no exit is
    skipped, and a claim is looked up in the task's root. Before: 0 alerts, 200 reads."""
    jail = _jail_with_shadow(tmp_path)
    if jail is None:
        if "kvm.job=" in Path("/proc/cmdline").read_text():  # shared/kernel-vm's overlays
            pytest.skip("no hardlink of /etc/shadow on this filesystem")
        pytest.fail("cannot hardlink /etc/shadow on this machine")
    try:
        argv = [str(programs["chrootread"]), str(jail), "s", "200"]
        proc, records = _start(tmp_path, tracer_backend, argv, stdin=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline() == "seen\n"
        time.sleep(0.5)  # the verdicts on "/s" have reached the core
        out, alerts, stats = _finish(proc, records, "go\n")
    finally:
        (jail / "s").unlink()
    assert _count(out, "shadow") == 200
    if tracer_backend in EXITS:
        assert stats["exits_skipped"] >= 20, stats  # the second round took the shortcut
    reads = [
        a for a in alerts
        if a["rule"] == READ_SENSITIVE and a["output_fields"].get("proc.name") == "chrootread"
    ]  # fmt: skip
    assert len(reads) == 200, stats
    assert {a["output_fields"]["fd.name"] for a in reads} == {str(jail / "s")}


@pytest.mark.parametrize("how", ["syscall", "dev", "mknod"])
def test_a_userfaultfd_ends_skipping(
    tmp_path: Path, tracer_backend: str, programs: dict[str, Path], how: str
) -> None:
    """With a userfaultfd (and UFFDIO_MOVE, Linux 6.8), another process holding it can
    take the page of a claim away after the agent read it and serve another when the
    kernel faults on it: no claim of that task can be trusted to skip its exit any
    more. Got by the syscall, or by USERFAULTFD_IOC_NEW on /dev/userfaultfd or on a
    node of the same device made with mknod; "none" (no userfaultfd) shows the same
    reads skip otherwise."""
    f = tmp_path / "f"
    f.write_text("harmless\n")
    misc = {
        line.split()[1]: line.split()[0] for line in Path("/proc/misc").read_text().splitlines()
    }
    if how != "syscall" and "userfaultfd" not in misc:
        pytest.skip("no userfaultfd device in this kernel")
    node = []
    if how == "mknod":
        node = [str(tmp_path / "uf")]
        os.mknod(node[0], 0o600 | 0o020000, os.makedev(10, int(misc["userfaultfd"])))

    def skips(mode: str) -> tuple[int, str]:
        argv = [str(programs["uffdopen"]), str(f), mode, *node]
        out, _, stats = _past_seen(tmp_path, tracer_backend, argv)
        return stats["exits_skipped"], out

    if tracer_backend not in EXITS:
        assert skips(how.replace("mknod", "dev"))[0] == 0
        return
    baseline, _ = skips("none")
    assert baseline >= 200  # the 300 reads after "seen" skip when nothing distrusts
    skipped, out = skips(how.replace("mknod", "dev"))
    if how == "syscall" and "uffd OK" not in out:
        # before Linux 5.11 (no user-mode-only flag) a task without CAP_SYS_PTRACE
        # gets none, as under tracehound: nothing to distrust
        pytest.skip(f"no userfaultfd for a task without CAP_SYS_PTRACE here: {out.strip()}")
    assert "uffd OK" in out, out
    assert skipped <= 20, skipped  # at most the 20 reads before the userfaultfd


@pytest.mark.parametrize("how", ["uring", "aio"])
def test_the_kernel_writing_memory_later_ends_skipping(
    tmp_path: Path, tracer_backend: str, programs: dict[str, Path], how: str
) -> None:
    """An io_uring read, or an AIO read, goes on writing the task's memory while the
    task waits in its next open: the claim can change after the agent read it, with
    no other task sharing the memory. A task that sets either up ends skipping; "none"
    shows the same reads skip otherwise."""
    f = tmp_path / "f"
    f.write_text("harmless\n")

    def skips(mode: str) -> tuple[int, str]:
        argv = [str(programs["asyncread"]), str(f), mode]
        out, _, stats = _past_seen(tmp_path, tracer_backend, argv)
        return stats["exits_skipped"], out

    if tracer_backend not in EXITS:
        assert skips(how)[0] == 0
        return
    baseline, _ = skips("none")
    assert baseline >= 200  # the 300 reads after "seen" skip when nothing distrusts
    skipped, out = skips(how)
    if "async OK" not in out:
        pytest.skip(f"no {how} here: {out.strip()}")
    assert skipped <= 20, skipped  # at most the 20 reads before it


# 400 forked children each read `f` ten times and wait; the parent says "ready" once
# all have, then waits for a line and lets them go.
MANY_READERS = """
import os, sys
r, w = os.pipe()
done_r, done_w = os.pipe()
for _ in range(400):
    if os.fork() == 0:
        os.close(w)  # the parent's close is the go
        for _ in range(10):
            with open(sys.argv[1]) as f:
                f.read()
        os.write(done_w, b"x")
        os.read(r, 1)
        os._exit(0)
got = 0
while got < 400:
    got += len(os.read(done_r, 400 - got))
print("ready", flush=True)
sys.stdin.readline()
os.close(w)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
"""


def test_the_agent_keeps_few_fds_on_tracees_memory(tmp_path: Path, tracer_backend: str) -> None:
    """A busy task's claims are read through its /proc/TID/mem (and pagemap), one fd in
    the agent per task: bounded (256), so that many processes cannot take the fds the
    agent itself needs (here ~10 of its own, and 400 busy tasks)."""
    f = tmp_path / "f"
    f.write_text("harmless\n")
    argv = [sys.executable, "-c", MANY_READERS, str(f)]
    proc, records = _start(tmp_path, tracer_backend, argv, stdin=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    agent_fds = len(os.listdir(f"/proc/{proc.pid}/fd"))
    _finish(proc, records, "go\n")
    assert agent_fds < 256 + 64, agent_fds


# Reads `f`, waits for a line, writes a file (a write-open: every verdict is forgotten
# and learned again), then reads `f` 300 times.
WRITE_THEN_READ = """
import sys, time
def reads(n):
    for i in range(n):
        with open(sys.argv[1]) as f:
            f.read()
        time.sleep(0.0002)
reads(20)
print("seen", flush=True)
sys.stdin.readline()
open(sys.argv[1] + ".out", "w").close()
reads(300)
"""


def test_skipping_resumes_after_a_write(tmp_path: Path, tracer_backend: str) -> None:
    """A write-open makes the core forget its verdicts; the repeats learned again must
    reach the core. Before, the first of them was offered while the write was still on
    its way to the chain (declined), and its equal repeats were never offered again:
    3 of 3,000 reads skipped for the rest of the process's life."""
    f = tmp_path / "f"
    f.write_text("harmless\n")
    argv = [sys.executable, "-c", WRITE_THEN_READ, str(f)]
    _, _, stats = _past_seen(tmp_path, tracer_backend, argv)
    if tracer_backend not in EXITS:
        assert stats["exits_skipped"] == 0, stats
        return
    assert stats["exits_skipped"] >= 150, stats  # most of the 300 reads after the write


def test_a_path_in_a_fresh_buffer_each_time_still_skips(
    tmp_path: Path, tracer_backend: str, programs: dict[str, Path]
) -> None:
    """An entry key is the event, not the pointers that led to it: a server that builds
    each path in a fresh buffer (nginx's per-request pools) repeats its keys. Before,
    the pointer was in the key: every open took its exit (W5: ~300 per run)."""
    f = tmp_path / "f"
    f.write_text("harmless\n")
    argv = [str(programs["freshbuffers"]), str(f), "300"]
    _, _, stats = _past_seen(tmp_path, tracer_backend, argv)
    if tracer_backend not in EXITS:
        assert stats["exits_skipped"] == 0, stats
        return
    assert stats["exits_skipped"] >= 250, stats

"""Process-level values that Falco keeps per thread and records do not carry.

Credentials and capabilities, the login uid, the controlling tty, the session and
process group, the start time, the environment and the executable's inode. The
tracer reads the raw texts at exec (or when it first sees a process), while the
process is surely there (ProcInfo.facts); a snapshot without them (a forked copy
that never exec'd) reads /proc/<pid> the first time a rule or an output asks.
Either way the values are parsed once and cached on the ProcInfo snapshot.

When neither has the process (it exited before the pipeline looked), the field
is simply missing (None, <NA>): nothing is invented.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import NamedTuple

from tracehound.event import ProcFacts, ProcInfo

# Capability names by bit number (linux/capability.h), the order libsinsp prints them in.
CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)  # fmt: skip

_UNSET_LOGINUID = 0xFFFFFFFF
_TICKS = os.sysconf("SC_CLK_TCK")


def caps_to_string(mask: int) -> str:
    """Space-separated capability names, as libsinsp's caps_to_string."""
    return " ".join(name for bit, name in enumerate(CAPABILITIES) if mask >> bit & 1)


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


def _boot_epoch_ns() -> int:
    """Wall-clock time of boot, from CLOCK_BOOTTIME (ns precision, unlike /proc/stat btime)."""
    return time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)


class ExeStat(NamedTuple):
    st_ino: int
    st_ctime_ns: int
    st_mtime_ns: int


def _parse_status(text: str) -> dict[str, str]:
    return {k: v.strip() for k, _, v in (ln.partition(":") for ln in text.splitlines())}


def _parse_stat(text: str) -> list[str]:
    # comm may hold spaces and parentheses: split after the last ')'.
    return text[text.rindex(")") + 2 :].split()


def _parse_loginuid(text: str) -> int:
    text = text.strip()
    return int(text) if text.isdigit() else _UNSET_LOGINUID  # no audit: UINT32_MAX


def _parse_env(text: str) -> list[str]:
    return [v for v in text.split("\0") if v]


@dataclass(slots=True)
class ProcExtra:
    """What /proc said about one process snapshot; None where it could not be read."""

    pid: int
    status: dict[str, str] | None = None
    stat: list[str] | None = None
    loginuid: int | None = None
    env: list[str] | None = None
    exe_stat: ExeStat | None = None
    start_ns: int | None = None
    _loaded: set[str] = field(default_factory=set)

    def _once(self, what: str) -> bool:
        if what in self._loaded:
            return False
        self._loaded.add(what)
        return True

    def load_status(self) -> dict[str, str] | None:
        if self._once("status"):
            text = _read(f"/proc/{self.pid}/status")
            if text is not None:
                self.status = _parse_status(text)
        return self.status

    def load_stat(self) -> list[str] | None:
        if self._once("stat"):
            text = _read(f"/proc/{self.pid}/stat")
            if text is not None and ")" in text:
                self.stat = _parse_stat(text)
        return self.stat

    def load_loginuid(self) -> int | None:
        if self._once("loginuid"):
            text = _read(f"/proc/{self.pid}/loginuid")
            if text is not None or os.path.isdir(f"/proc/{self.pid}"):
                self.loginuid = _parse_loginuid(text or "")
        return self.loginuid

    def load_env(self) -> list[str] | None:
        if self._once("env"):
            text = _read(f"/proc/{self.pid}/environ")
            if text is not None:
                self.env = _parse_env(text)
        return self.env

    def load_exe_stat(self) -> ExeStat | None:
        if self._once("exe"):
            try:
                st = os.stat(f"/proc/{self.pid}/exe")
                self.exe_stat = ExeStat(st.st_ino, st.st_ctime_ns, st.st_mtime_ns)
            except OSError:
                self.exe_stat = None
        return self.exe_stat


def _seed(x: ProcExtra, facts: ProcFacts) -> None:
    """Start from what the tracer read at exec, while the process was surely alive."""
    if facts.status is not None:
        x.status = _parse_status(facts.status)
        x._loaded.add("status")
    if facts.stat is not None and ")" in facts.stat:
        x.stat = _parse_stat(facts.stat)
        x._loaded.add("stat")
    if facts.loginuid is not None:
        x.loginuid = _parse_loginuid(facts.loginuid)
        x._loaded.add("loginuid")
    if facts.environ is not None:
        x.env = _parse_env(facts.environ.decode("utf-8", "replace"))
        x._loaded.add("env")
    if facts.exe_stat is not None:
        x.exe_stat = ExeStat(*facts.exe_stat)
        x._loaded.add("exe")


def extra(proc: ProcInfo) -> ProcExtra:
    x = proc.proc_cache
    if x is None:
        x = ProcExtra(proc.pid)
        if proc.facts is not None:
            _seed(x, proc.facts)
        object.__setattr__(proc, "proc_cache", x)  # a cache, not state: frozen is fine
    assert isinstance(x, ProcExtra)
    return x


def prefetch(proc: ProcInfo) -> None:
    """Read everything now (called at exec, while the new program is most likely alive)."""
    x = extra(proc)
    x.load_status()
    x.load_stat()
    x.load_loginuid()
    x.load_env()
    x.load_exe_stat()


# ---- field values ----


def _status_int(proc: ProcInfo, key: str, base: int = 10) -> int | None:
    st = extra(proc).load_status()
    if st is None or key not in st:
        return None
    try:
        return int(st[key].split()[-1], base)
    except (ValueError, IndexError):
        return None


def caps(proc: ProcInfo, key: str) -> str | None:
    mask = _status_int(proc, key, 16)
    return None if mask is None else caps_to_string(mask)


def loginuid(proc: ProcInfo) -> int | None:
    v = extra(proc).load_loginuid()
    if v is None:
        return None
    return -1 if v >= _UNSET_LOGINUID else v


def tty(proc: ProcInfo) -> int | None:
    st = extra(proc).load_stat()
    return int(st[4]) if st is not None else None  # field 7 of /proc/pid/stat: tty_nr


def vpid(proc: ProcInfo) -> int | None:
    return _status_int(proc, "NSpid")  # the last NSpid entry is the innermost namespace


def vpgid(proc: ProcInfo) -> int | None:
    return _status_int(proc, "NSpgid")


def sid(proc: ProcInfo) -> int | None:
    return _status_int(proc, "NSsid")


def clone_ts(proc: ProcInfo) -> int | None:
    """Start of the process in ns since the epoch (field 22 of stat: starttime in ticks)."""
    x = extra(proc)
    if x.start_ns is None:
        st = x.load_stat()
        if st is None:
            return None
        # Computed once: the boot epoch moves by microseconds between clock readings.
        x.start_ns = _boot_epoch_ns() + int(st[19]) * 1_000_000_000 // _TICKS
    return x.start_ns


def env(proc: ProcInfo) -> list[str] | None:
    return extra(proc).load_env()


def exe_stat(proc: ProcInfo) -> ExeStat | None:
    return extra(proc).load_exe_stat()


def process_by_pid(proc: ProcInfo, pid: int) -> ProcInfo | None:
    """The snapshot of `pid` among proc and its ancestors."""
    p: ProcInfo | None = proc
    while p is not None:
        if p.pid == pid:
            return p
        p = p.parent
    return None


def comm_of(pid: int) -> str | None:
    text = _read(f"/proc/{pid}/comm")
    return text.strip() if text is not None else None


def exe_of(pid: int) -> str | None:
    text = _read(f"/proc/{pid}/cmdline")
    return text.split("\0")[0] if text else None

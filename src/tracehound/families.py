"""Syscall families: which event types count as an exec, an open, a connect...

Declared once here and imported by the tracer (what to trace, which stops confirm an
exec), the profiles, the process table and every stage, so "what is an exec" cannot
mean two things in two places. Names are tracehound's normalised syscall names
(agent/tracer/syscalls.py: one name per syscall across architectures).
"""

from __future__ import annotations

__all__ = [
    "ACCEPT",
    "CONNECT",
    "CREATE",
    "EXEC",
    "FILELESS",
    "FILE_CHANGE",
    "LIFECYCLE",
    "MODIFY",
    "NET_IN",
    "OPEN",
    "PRIVILEGE",
    "SEND",
    "SETID",
]

# Start a new program: the process table replaces the snapshot, rules see proc.* anew.
EXEC = frozenset({"execve", "execveat"})
# Open a file by name (or handle); fd.name is the path, evt.arg.flags the open flags.
OPEN = frozenset({"open", "openat", "openat2", "creat", "open_by_handle_at"})
# Give an existing file a new name: the new name is a written file (drop-and-exec).
CREATE = frozenset({"rename", "renameat", "renameat2", "link", "linkat", "symlink"})
# Change a file named by its path: fd.name is the path that is modified.
MODIFY = frozenset(
    {
        "unlink", "unlinkat", "rename", "renameat", "renameat2", "chmod", "fchmodat",
        "chown", "lchown", "fchownat", "truncate", "link", "linkat", "symlink",
        "symlinkat", "mknod", "mknodat", "creat", "rmdir", "utimensat",
    }
)  # fmt: skip
# Change a file's name, mode or owner (what the balanced profile adds to the minimal one).
FILE_CHANGE = frozenset(
    {
        "unlink", "unlinkat", "rmdir", "rename", "renameat", "renameat2",
        "chmod", "fchmod", "fchmodat", "fchmodat2",
        "chown", "fchown", "lchown", "fchownat",
    }
)  # fmt: skip
# Outgoing connections.
CONNECT = frozenset({"connect"})
# Incoming connections accepted (fd.connected from the result).
ACCEPT = frozenset({"accept", "accept4"})
# Listening side: bind, listen and the accepts.
NET_IN = frozenset({"bind", "listen"}) | ACCEPT
# Datagrams that may name their destination (an unconnected socket).
SEND = frozenset({"sendto", "sendmsg", "sendmmsg"})
# Change the process's user or group ids.
SETID = frozenset(
    {"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid"}
)
# Gain or use privilege: set ids, touch other processes' memory, kernel modules, mounts.
PRIVILEGE = SETID | frozenset(
    {
        "ptrace", "process_vm_writev", "init_module", "finit_module", "delete_module",
        "mount", "umount2",
    }
)  # fmt: skip
# Run code without a file on disk, or redirect the standard fds (reverse shells).
FILELESS = frozenset({"memfd_create", "dup2", "dup3"})
# Process lifecycle: the process table needs every one of them, so none is sampled.
LIFECYCLE = frozenset({"clone", "clone3", "fork", "vfork", "exit"})

"""What the capture core reads at a stop, per syscall: its "spec".

A spec is a short list of operations on the six raw arguments (read the string
at args[1] and resolve it against the dirfd in args[0], read the sockaddr at
args[1] of length args[2], ...). Python compiles the specs once into the
core's per-architecture tables; the core runs them at each stop without Python,
and decode.py turns what they read into Falco fields later, in batches.
"""

from __future__ import annotations

from collections.abc import Iterable

from tracehound.agent.tracer.syscalls import TABLES
from tracehound.families import CREATE, SETID
from tracehound.families import EXEC as EXEC_FAMILY

# Opcodes, shared with _core.c (enum OP_*). AT_EXIT marks an op done at the exit stop.
STR, PATH, FDPATH, SOCKADDR, SOCKINFO, ARGV, RAW, SOCKADDR_PLEN, IDS = range(1, 10)
VERIFY_FD, VERIFY_PEER = 12, 13  # the kernel's answer at the exit (see truth.py)
NO_ARG = 0xFF
AT_EXIT = 0x80
CWD = 0xFF  # PATH's dirfd argument when the path is relative to the cwd
CAPTURE = 1  # spec flag: take the exit stop (ptrace only)
EXEC = 2  # spec flag: execve/execveat (without ptrace the core looks again afterwards)
# Spec flags for skipping exit stops nobody needs (_core.c "exit stops nobody needs"):
TEACHES = 32  # its event can change what the stages answer: the core forgets its verdicts
OPEN_FLAGS1, OPEN_FLAGS2 = 64, 128  # an open with its flags in args[1] / args[2]
DISTRUST = 256  # it writes another process's memory: the core trusts no claim again
CONNECT = 512  # a connect (IPv4/IPv6 address in args[1], length args[2])
NEWROOT = 1024  # it changes where an absolute path leads for the task, not for the agent
REMAP = 2048  # it can map a page another process writes: the core's memory verdicts end
QUIET = 4096  # stopped for the core's own sake (REMAP): answered, never recorded
_SKIPPABLE = {"open": OPEN_FLAGS1, "openat": OPEN_FLAGS2, "connect": CONNECT}
SKIPPABLE = frozenset(_SKIPPABLE)  # the syscalls whose exit stop the core may skip
_TEACHES = CREATE | SETID | EXEC_FAMILY
_TEACHES |= {"creat", "openat2", "symlinkat", "mount", "umount2", "umount"}
# A task with its own root or mount namespace resolves an absolute path elsewhere than
# the agent's `stat` does; a userfaultfd lets another process replace a page of the
# task's memory (UFFDIO_MOVE, Linux 6.8) after the agent read a claim from it.
_NEWROOT = frozenset({"chroot", "pivot_root", "unshare", "setns"})
# The kernel writing the task's memory later, on the task's behalf (io_uring's reads,
# AIO's O_DIRECT reads), can change a claim while the task waits in its open.
_DISTRUST = frozenset({"process_vm_writev", "ptrace", "userfaultfd", "io_uring_setup", "io_submit"})
_DISTRUST |= _NEWROOT
# Traced whatever the rules ask for: without them a skipped exit or a claim resolved
# by the agent could rest on what the task no longer sees (rare: no cost until made).
CLAIM_GUARDS = _DISTRUST
# What can put a page another process writes where the task's claims are (a shared or
# file mapping: mmap's flags are checked in the filter, seccomp.SHARED_OR_FILE_MAPS).
# With these stopped, the core trusts a claim in a private anonymous mapping without
# reading the page's state at every open (_core.c, claim_private).
REMAPS = frozenset({"mmap", "mmap2", "old_mmap", "mremap", "shmat", "ipc", "remap_file_pages"})

# Blob tags, shared with _core.c (enum T_*).
T_STR, T_BASE, T_FDPATH, T_SOCKADDR, T_SOCKINFO, T_ARGV, T_RAW = range(1, 8)
T_EXE, T_COMM, T_CMDLINE, T_CWD, T_IDS = range(8, 13)
T_STATUS, T_STAT, T_LOGINUID, T_ENVIRON, T_EXESTAT = range(13, 18)
T_FDTRUTH, T_FDSTAT, T_PEER = range(18, 21)
T_CLAIMSTAT, T_ENTRYKEY = 21, 22  # an open whose exit stop may be skipped (proctable.py)

Op = tuple[int, int, int]


def _path(arg: int, dirfd: int = CWD) -> Op:
    return (PATH, arg, dirfd)


OPS: dict[str, tuple[Op, ...]] = {
    "open": (_path(0),),
    "creat": (_path(0),),
    "openat": (_path(1, 0),),
    "openat2": (_path(1, 0), (RAW, 2, 8)),
    "execve": (_path(0), (ARGV, 1, 0)),
    "execveat": (_path(1, 0), (ARGV, 2, 0)),
    # SOCKINFO's third byte: 1 = with the local and peer address (two more syscalls).
    "connect": ((SOCKADDR, 1, 2), (SOCKINFO, 0, 0)),
    "bind": ((SOCKADDR, 1, 2), (SOCKINFO, 0, 0)),
    "listen": ((SOCKINFO, 0, 1),),
    "accept": ((SOCKADDR_PLEN | AT_EXIT, 1, 2),),
    "accept4": ((SOCKADDR_PLEN | AT_EXIT, 1, 2),),
    "unlink": (_path(0),),
    "rmdir": (_path(0),),
    "unlinkat": (_path(1, 0),),
    "rename": (_path(0), _path(1)),
    "renameat": (_path(1, 0), _path(3, 2)),
    "renameat2": (_path(1, 0), _path(3, 2)),
    "symlink": ((STR, 0, 0), _path(1)),
    "link": ((STR, 0, 0), _path(1)),
    "symlinkat": ((STR, 0, 0), _path(2, 1)),
    "linkat": (_path(1, 0), _path(3, 2)),
    "chmod": (_path(0),),
    "fchmod": ((FDPATH, 0, 0),),
    "fchmodat": (_path(1, 0),),
    "fchmodat2": (_path(1, 0),),
    "chown": (_path(0),),
    "lchown": (_path(0),),
    "fchown": ((FDPATH, 0, 0),),
    "fchownat": (_path(1, 0),),
    "memfd_create": ((STR, 0, 0),),
    "dup2": ((FDPATH, 0, 0), (SOCKINFO, 0, 1)),
    "dup3": ((FDPATH, 0, 0), (SOCKINFO, 0, 1)),
    "mount": ((STR, 0, 0), _path(1), (STR, 2, 0)),
    "umount2": (_path(0),),
    "umount": (_path(0),),
    "chdir": (_path(0),),
    "chroot": (_path(0),),
    "mkdir": (_path(0),),
    "truncate": (_path(0),),
    "mkdirat": (_path(1, 0),),
    "fchdir": ((FDPATH, 0, 0),),
    "init_module": ((STR, 2, 0),),
    "finit_module": ((FDPATH, 0, 0), (STR, 1, 0)),
    "delete_module": ((STR, 0, 0),),
    "sendto": ((SOCKADDR, 4, 5),),
}
for _name in SETID:
    OPS[_name] = ((IDS | AT_EXIT, 0, 0),)

# With tracer.verify: what the kernel did, read at the exit stop. Opens: the file
# the new fd refers to (args: path arg, flags arg); connect: the socket's peer.
VERIFY_OPS: dict[str, Op] = {
    "open": (VERIFY_FD | AT_EXIT, 0, 1),
    "creat": (VERIFY_FD | AT_EXIT, 0, NO_ARG),
    "openat": (VERIFY_FD | AT_EXIT, 1, 2),
    "openat2": (VERIFY_FD | AT_EXIT, 1, NO_ARG),
    "connect": (VERIFY_PEER | AT_EXIT, 0, 0),
}
VERIFIED = frozenset(VERIFY_OPS)

# Architecture index in the core's tables; x32 numbers carry the X32 bit.
ARCH_INDEX = {"x86_64": 0, "x32": 1, "i386": 2, "aarch64": 3}


def compile_specs(
    traced: frozenset[str],
    capture: Iterable[str],
    verify: bool = False,
    quiet: frozenset[str] = frozenset(),
) -> list[tuple[int, int, int, bytes]]:
    """[(arch index, nr, flags, ops)] for every traced syscall of every architecture;
    `verify`: add the VERIFY_OPS (done at the exit stop, so only where captured);
    `quiet`: traced for the core's own sake, not recorded."""
    capture = frozenset(capture)
    out = []
    for arch, index in ARCH_INDEX.items():
        for nr, name in TABLES[arch].items():
            if name not in traced:
                continue
            ops = OPS.get(name, ())
            if verify and name in VERIFY_OPS:
                ops = (*ops, VERIFY_OPS[name])
            if name not in capture:
                ops = tuple(op for op in ops if not op[0] & AT_EXIT)
            flags = (CAPTURE if name in capture else 0) | (EXEC if name in EXEC_FAMILY else 0)
            flags |= _SKIPPABLE.get(name, 0) | (TEACHES if name in _TEACHES else 0)
            flags |= DISTRUST if name in _DISTRUST else 0
            flags |= NEWROOT if name in _NEWROOT else 0
            flags |= REMAP if name in REMAPS else 0
            flags |= QUIET if name in quiet else 0
            out.append((index, nr, flags, bytes(b for op in ops for b in op)))
    return out

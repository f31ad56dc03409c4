"""Kernel constants shared by the Python side of the tracer, and prctl.

Everything done per stop (ptrace requests, seccomp, process_vm_readv,
pidfd_getfd) lives in the capture core, _core.c.
"""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)

# audit architectures (linux/audit.h)
AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
AUDIT_ARCH_AARCH64 = 0xC00000B7
X32_SYSCALL_BIT = 0x40000000

PR_SET_CHILD_SUBREAPER = 36


def prctl(option: int, arg2: int = 0) -> int:
    ret: int = _libc.prctl(option, arg2, 0, 0, 0)
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret

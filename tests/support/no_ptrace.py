"""Run a command where ptrace(2) is refused, as in a container without SYS_PTRACE
whose seccomp profile blocks it: `python no_ptrace.py PROGRAM ARGS...`.

Installs a seccomp filter that fails ptrace with EPERM (everything else allowed),
then execs the program, which inherits the filter.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys

_SECCOMP_SET_MODE_FILTER = 1
_PR_SET_NO_NEW_PRIVS = 38
# (seccomp, ptrace, audit arch) by machine: x86_64, and arm64 (scripts/arm64-vm)
_ABI = {"x86_64": (317, 101, 0xC000003E), "aarch64": (277, 117, 0xC00000B7)}
_SYS_SECCOMP, _NR_PTRACE, _AUDIT_ARCH = _ABI[os.uname().machine]
_RET_ALLOW = 0x7FFF0000
_RET_EPERM = 0x00050000 | 1


def main() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    insns = [
        (0x20, 0, 0, 4),  # A = arch
        (0x15, 0, 3, _AUDIT_ARCH),
        (0x20, 0, 0, 0),  # A = nr
        (0x15, 0, 1, _NR_PTRACE),
        (0x06, 0, 0, _RET_EPERM),
        (0x06, 0, 0, _RET_ALLOW),
    ]
    prog = ctypes.create_string_buffer(b"".join(struct.pack("<HBBI", *i) for i in insns))
    fprog = struct.pack("<HxxxxxxQ", len(insns), ctypes.addressof(prog))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl")
    if libc.syscall(_SYS_SECCOMP, _SECCOMP_SET_MODE_FILTER, 0, fprog) != 0:
        raise OSError(ctypes.get_errno(), "seccomp")
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()

"""Find the program to run like a shell does, before anything starts.

The application itself is started by the capture core (_core.c, Core.spawn).
"""

from __future__ import annotations

import os
import shutil
import stat


class CommandNotRunnable(Exception):
    """The program cannot be started; `status` is the shell's exit code for it."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def resolve_command(name: str, env_path: str | None) -> str:
    """Find the program like a shell does: 127 when missing, 126 when not executable."""
    if "/" in name:
        path = name
    else:
        found = shutil.which(name, path=env_path if env_path is not None else os.defpath)
        if found is None:
            # shutil.which skips non-executable files; tell "not found" from "no permission".
            for d in (env_path or os.defpath).split(os.pathsep):
                if os.path.isfile(os.path.join(d or ".", name)):
                    raise CommandNotRunnable(f"{name}: Permission denied", 126)
            raise CommandNotRunnable(f"{name}: command not found", 127)
        path = found
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CommandNotRunnable(f"{name}: No such file or directory", 127) from None
    except OSError as exc:
        raise CommandNotRunnable(f"{name}: {exc.strerror}", 126) from None
    if stat.S_ISDIR(st.st_mode):
        raise CommandNotRunnable(f"{name}: Is a directory", 126)
    if not os.access(path, os.X_OK):
        raise CommandNotRunnable(f"{name}: Permission denied", 126)
    return path

"""Start the application stopped, ready for PTRACE_SEIZE, with its seccomp filter.

Runs in the tracer thread, because only the thread that attached may issue
ptrace requests. The child side runs between fork and exec: nothing there may
take a lock, log or import; everything it needs is prepared before fork.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import stat

from tracehound.agent.tracer import _ptrace


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


def _child(path: str, argv: list[str], env: dict[str, str], fprog: _ptrace.SockFprog) -> None:
    """Never returns: exec the application or exit 126/127 like a shell."""
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, ())
        # Python ignores SIGPIPE and SIGXFSZ; the application expects the defaults.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        _ptrace.prctl(_ptrace.PR_SET_NO_NEW_PRIVS, 1)  # required for an unprivileged filter
        os.kill(os.getpid(), signal.SIGSTOP)  # the tracer seizes us here
        _ptrace.install_seccomp(fprog)
        os.execve(path, argv, env)
    except OSError as exc:
        msg = f"tracehound: {argv[0]}: {exc.strerror}\n"
        os.write(2, msg.encode(errors="replace"))
        os._exit(127 if exc.errno == errno.ENOENT else 126)
    except BaseException:
        os._exit(126)


def spawn_stopped(path: str, argv: list[str], env: dict[str, str], fprog: _ptrace.SockFprog) -> int:
    """Fork the application; return its pid once it is stopped and waiting to be seized."""
    pid = os.fork()
    if pid == 0:
        _child(path, argv, env, fprog)
    _, status = os.waitpid(pid, os.WUNTRACED)
    if not os.WIFSTOPPED(status):
        raise OSError(f"application exited before it could be traced (status {status:#x})")
    return pid

"""The one process supervisor of the dev tooling: servers, the demo's worker, test and
benchmark workers all start, wait, stop and die through :class:`Supervised`.

A server started for the local stack is *detached*: it runs in a session of its own,
outlives the command that started it, and is found again by its pid file. The pid file
also records the process start time, so a stale file whose pid was reused by an unrelated
process is recognised (servers rewrite their command lines, so that cannot be the check).
A worker started for a test, a benchmark or the demo is a plain child of its starter.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from devstack.errors import StackError
from streams.backoff import poll_until


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` (checked by binding it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free_port(host: str, port: int, hint: str) -> None:
    """StackError unless ``port`` is free; ``hint`` says which setting moves it."""
    if not port_is_free(host, port):
        raise StackError(f"port {port} is taken by another process: stop it, or {hint}")


def free_port() -> int:
    """A TCP port nothing listens on now (for a test's or benchmark's own server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds pass."""
    return poll_until(check, timeout, interval)


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (field 22 of /proc/pid/stat), None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    # A child we spawned ourselves stays a zombie until reaped, and kill(pid, 0) succeeds
    # on zombies, so reap first when we can.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


class Supervised:
    """One long-running process, its output in ``log_path``.

    With ``pid_file`` the process is started detached and remembered across invocations;
    without, it is a child of this process and forgotten when this one ends.
    """

    def __init__(self, name: str, log_path: Path, pid_file: Path | None = None) -> None:
        self.name = name
        self.log_path = log_path
        self.pid_file = pid_file
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @classmethod
    def server(cls, name: str, home: Path) -> Supervised:
        """A detached server remembered by ``home/<name>.pid``, output in ``home/<name>.out``."""
        return cls(name, home / f"{name}.out", pid_file=home / f"{name}.pid")

    def start(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        own_session: bool = False,
        restore_sigint: bool = False,
    ) -> Supervised:
        """Start ``argv`` with ``env`` added to this environment.

        ``own_session`` keeps a terminal's Ctrl-C away from the process (always on for a
        detached server); ``restore_sigint`` gives it the default SIGINT handler even when
        this process was started with SIGINT ignored (a background job).
        """
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=own_session or self.pid_file is not None,
            preexec_fn=_default_sigint if restore_sigint else None,
        )
        if self.pid_file is not None:
            self.pid_file.write_text(f"{self.proc.pid} {_start_time(self.proc.pid)}")
        return self

    def pid(self) -> int | None:
        """The pid of the running process, or None (a stale pid file is removed)."""
        if self.pid_file is None:
            if self.proc is None or self.proc.poll() is not None:
                return None
            return self.proc.pid
        try:
            pid_text, started = self.pid_file.read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            return None
        if _alive(pid) and _start_time(pid) == started:
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Wait until ``ready()``; StackError naming ``what`` if it dies or times out."""
        if not wait_until(lambda: self.pid() is None or ready(), timeout, 0.25):
            tail = self.tail(3).replace("\n", " | ")
            self.stop()
            raise StackError(
                f"{self.name} did not answer {what} within {timeout:.0f}s "
                f"(see {self.log_path}): {tail[-300:]}"
            )
        if self.pid() is None:
            raise StackError(
                f"{self.name} exited during start-up: {self.tail(1)[:200]} (see {self.log_path})"
            )

    def tail(self, lines: int = 40) -> str:
        """The last ``lines`` of the process's output."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "no output"
        return "\n".join(text.strip().splitlines()[-lines:]) or "no output"

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit."""
        if self.pid() is not None and not self._signal_and_wait(signal.SIGKILL, 30):
            raise StackError(f"{self.name} did not die on SIGKILL")
        self._forget()

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM, then SIGKILL after ``timeout``; True when a process was stopped."""
        if self.pid() is None:
            self._forget()
            return False
        if not self._signal_and_wait(signal.SIGTERM, timeout) and not self._signal_and_wait(
            signal.SIGKILL, 10
        ):
            raise StackError(f"{self.name} did not stop")
        self._forget()
        return True

    def _signal_and_wait(self, signum: int, timeout: float) -> bool:
        """Send ``signum`` and wait up to ``timeout`` for the exit; False if still running."""
        if self.proc is not None and self.pid_file is None:
            # Our own child: Popen reaps it and keeps its exit status.
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signum)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        pid = self.pid()
        if pid is None:
            return True
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
        return wait_until(lambda: not _alive(pid), timeout)

    def _forget(self) -> None:
        if self.pid_file is not None:
            self.pid_file.unlink(missing_ok=True)
        if self._log is not None:
            self._log.close()
            self._log = None


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)

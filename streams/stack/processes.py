"""Detached server processes tracked by pid files, and the probes around them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from streams.stack.errors import StackError


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


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


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


class ManagedProcess:
    """One long-running server started detached, remembered by a pid file.

    The pid file also records the process start time, so a stale file whose pid was reused
    by an unrelated process is recognised (servers rewrite their command lines, so that
    cannot serve as the check).
    """

    def __init__(self, name: str, run_dir: Path) -> None:
        self.name = name
        self.run_dir = run_dir
        self.pid_file = run_dir / f"{name}.pid"
        self.log_file = run_dir / f"{name}.out"

    def pid(self) -> int | None:
        """The pid of our running server, or None (a stale pid file is removed)."""
        try:
            pid_text, started = self.pid_file.read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            return None
        if _alive(pid) and _start_time(pid) == started:
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def spawn(self, argv: Sequence[str], env: dict[str, str] | None = None) -> int:
        """Start ``argv`` in its own session (it outlives this process) and record its pid."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        self.pid_file.write_text(f"{proc.pid} {_start_time(proc.pid)}")
        return proc.pid

    def launch(
        self,
        argv: Sequence[str],
        ready: Callable[[], bool],
        timeout: float,
        probe: str,
        logs: Path,
    ) -> None:
        """Spawn ``argv`` and wait until ``ready()``; StackError if it dies or times out."""
        self.spawn(argv)
        if not wait_until(lambda: self.pid() is None or ready(), timeout, 0.25):
            self.stop()
            raise StackError(
                f"{self.name} did not answer {probe} within {timeout:.0f}s (see {logs})"
            )
        if (last := self.exited_early()) is not None:
            raise StackError(f"{self.name} exited during start-up: {last[:200]} (see {logs})")

    def exited_early(self) -> str | None:
        """If the server died, the tail of its output (for the error message)."""
        if self.pid() is not None:
            return None
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        return lines[-1] if lines else "no output"

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM, then SIGKILL after ``timeout``; True when a process was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        if not wait_until(lambda: not _alive(pid), timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if not wait_until(lambda: not _alive(pid), 10):
                raise StackError(f"{self.name} (pid {pid}) did not stop")
        self.pid_file.unlink(missing_ok=True)
        return True

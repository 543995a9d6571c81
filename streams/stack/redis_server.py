"""A ``redis-server`` (Debian package) on loopback, data and log under ``state_dir/redis``."""

from __future__ import annotations

import shutil
from pathlib import Path

from streams.stack.errors import StackError
from streams.stack.probes import redis_ready
from streams.stack.processes import ManagedProcess, port_is_free, wait_until

LOOPBACK = {"localhost", "127.0.0.1"}


class RedisServer:
    """Run one redis-server for the latest-value store."""

    def __init__(self, state_dir: Path, host: str, port: int, url: str) -> None:
        if host not in LOOPBACK:
            raise StackError(f"the local stack runs Redis on loopback only; REDIS_URL names {host}")
        self.home = state_dir.resolve() / "redis"
        self.host = "127.0.0.1"
        self.port = port
        self.url = url
        self.process = ManagedProcess("redis", self.home)

    def pid(self) -> int | None:
        return self.process.pid()

    def ready(self) -> bool:
        return redis_ready(self.url)

    def start(self, timeout: float = 20.0) -> bool:
        """Start and wait for PING; False when it was already running."""
        if self.pid() is not None:
            return False
        binary = shutil.which("redis-server")
        if binary is None:
            raise StackError(
                "redis-server not found: install it (Debian: apt-get update && "
                "apt-get install redis-server)"
            )
        if not port_is_free(self.host, self.port):
            raise StackError(
                f"port {self.port} is taken by another process: stop it, or set REDIS_URL "
                "to another port"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        self.process.spawn(
            [
                binary,
                "--bind",
                self.host,
                "--port",
                str(self.port),
                "--dir",
                str(self.home),
                "--logfile",
                str(self.home / "redis.log"),
                # A latest-value cache that is rebuilt from the stream: no disk snapshots.
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ]
        )
        if not wait_until(lambda: self.process.pid() is None or self.ready(), timeout):
            self.process.stop()
            raise StackError(f"redis-server did not answer PING within {timeout:.0f}s")
        if (last := self.process.exited_early()) is not None:
            raise StackError(f"redis-server exited during start-up: {last[:200]}")
        return True

    def stop(self) -> bool:
        return self.process.stop(timeout=10)

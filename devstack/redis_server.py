"""A ``redis-server`` (Debian package) on loopback, data and log under ``state_dir/redis``."""

from __future__ import annotations

import shutil
from pathlib import Path

from devstack.errors import StackError
from devstack.probes import redis_ready
from devstack.supervisor import Supervised, require_free_port

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
        self.process = Supervised.server("redis", self.home)

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
        require_free_port(self.host, self.port, "set REDIS_URL to another port")
        self.home.mkdir(parents=True, exist_ok=True)
        self.process.start(
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
        self.process.wait_until(self.ready, timeout, "PING")
        return True

    def stop(self) -> bool:
        return self.process.stop(timeout=10)

"""``stack up|down|status``: both servers together, as the CLI and the tests use them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from devstack.kafka_broker import KafkaBroker
from devstack.redis_server import RedisServer
from devstack.supervisor import free_port
from streams.settings import Settings

Component = Literal["kafka", "redis", "mlflow"]


class ComponentStatus(BaseModel):
    """One server's state as ``stack status`` reports it."""

    name: Component
    address: str
    pid: int | None
    ready: bool
    action: Literal["started", "already running", "stopped", "not running", "status"] = "status"
    seconds: float | None = None

    def line(self) -> str:
        state = "ready" if self.ready else "down"
        pid = f"pid {self.pid}" if self.pid else "no pid"
        took = f", {self.seconds:.1f}s" if self.seconds is not None else ""
        return f"{self.name:<6} {state:<5} {self.address:<16} ({pid}; {self.action}{took})"


class LocalStack:
    """The local Kafka broker and redis-server described by one Settings object."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        kafka = settings.kafka_address
        redis_at = settings.redis_address
        self.kafka = KafkaBroker(
            settings.state_dir,
            kafka.host,
            kafka.port,
            settings.kafka_controller_port,
            settings.kafka_heap,
        )
        self.redis = RedisServer(
            settings.state_dir, redis_at.host, redis_at.port, settings.redis_url.get_secret_value()
        )

    def fetch(self) -> list[ComponentStatus]:
        """Download the broker jars now (``up`` does it too), so CI can time it apart."""
        self.kafka.fetch_jars()
        return []

    def up(self) -> list[ComponentStatus]:
        """Start whatever is not running; a second ``up`` is a no-op."""
        out = []
        for name, server in (("redis", self.redis), ("kafka", self.kafka)):
            began = time.monotonic()
            started = server.start()
            out.append(
                ComponentStatus(
                    name=name,
                    address=self._address(name),
                    pid=server.pid(),
                    ready=server.ready(),
                    action="started" if started else "already running",
                    seconds=time.monotonic() - began if started else None,
                )
            )
        return out

    def down(self) -> list[ComponentStatus]:
        """Stop both servers (Kafka first, so it can flush cleanly)."""
        out = []
        for name, server in (("kafka", self.kafka), ("redis", self.redis)):
            stopped = server.stop()
            out.append(
                ComponentStatus(
                    name=name,
                    address=self._address(name),
                    pid=None,
                    ready=False,
                    action="stopped" if stopped else "not running",
                )
            )
        return out

    def status(self) -> list[ComponentStatus]:
        return [
            ComponentStatus(
                name=name, address=self._address(name), pid=server.pid(), ready=server.ready()
            )
            for name, server in (("kafka", self.kafka), ("redis", self.redis))
        ]

    def _address(self, name: str) -> str:
        return self.kafka.bootstrap if name == "kafka" else f"127.0.0.1:{self.redis.port}"


def private_broker(home: Path, heap: str = "384m") -> KafkaBroker:
    """A broker of one run's own on free ports, under ``home``, its jars linked from the
    local stack's cache when that has them (no second fetch): for a fault that must reach
    nothing else (a restart), or a run that measures one worker alone."""
    shared_libs = LocalStack(Settings()).kafka.libs
    broker = KafkaBroker(home, "127.0.0.1", free_port(), free_port(), heap)
    if shared_libs.is_dir() and not broker.libs.exists():
        broker.home.mkdir(parents=True, exist_ok=True)
        broker.libs.symlink_to(shared_libs.resolve(), target_is_directory=True)
    return broker

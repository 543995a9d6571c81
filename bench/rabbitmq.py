"""A throwaway RabbitMQ node on loopback for the Celery baseline (Debian ``rabbitmq-server``).

The node gets its own name, ports, data and log dirs under ``home``, and its own epmd on a
free port, so nothing touches a system RabbitMQ and ``stop`` leaves nothing running.
Install it with ``apt-get update && apt-get install rabbitmq-server``.
"""

from __future__ import annotations

import shutil
import socket
import uuid
from pathlib import Path

from devstack.errors import StackError
from devstack.supervisor import Supervised, free_port

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")  # the sbin wrapper insists on su


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class RabbitMQ:
    """Start and stop one node; ``url`` is its AMQP address."""

    def __init__(self, home: Path) -> None:
        self.home = home.resolve()
        self.port = free_port()
        self.epmd_port = free_port()
        self.epmd = Supervised.server("epmd", self.home)
        self.node = Supervised.server("rabbitmq", self.home)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self, timeout: float = 60.0) -> None:
        epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        if not SERVER.exists() or not Path(epmd).exists():
            raise StackError("rabbitmq-server not found: apt-get install rabbitmq-server")
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "enabled_plugins").write_text("[].\n")
        (self.home / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{self.port}\n")
        self.epmd.start([epmd, "-port", str(self.epmd_port), "-address", "127.0.0.1"])
        env = {
            "HOME": str(self.home),  # the Erlang cookie lives here
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_NODENAME": f"bench{uuid.uuid4().hex[:6]}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(self.home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.home / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.home / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.home / "enabled_plugins"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        self.node.start([str(SERVER)], env=env)
        try:
            self.node.wait_until(lambda: _answers(self.port), timeout, "AMQP connections")
        except StackError:
            self.epmd.stop(timeout=5)
            raise

    def stop(self) -> None:
        self.node.stop(timeout=30)
        self.epmd.stop(timeout=5)

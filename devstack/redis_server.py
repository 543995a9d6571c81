"""A ``redis-server`` (Debian package) on loopback, data and log under ``state_dir/redis``.

Plaintext and open by default (``stack up``). With a :class:`RedisSecurity` it speaks TLS
only (``--port 0``), the ``default`` user is off, and each user has an ACL: the worker's
allows exactly the commands ``streams/sinks/redis_latest.py`` sends, on prediction keys.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, SecretStr

from devstack.errors import StackError
from devstack.probes import redis_ready
from devstack.supervisor import Supervised, require_free_port

LOOPBACK = {"localhost", "127.0.0.1"}

#: The worker's Redis ACL. ``RedisLatestSink`` writes with a Lua compare-and-set
#: (``EVALSHA``; redis-py loads the script with ``SCRIPT EXISTS``/``SCRIPT LOAD`` before a
#: pipeline, and the script itself calls ``GET`` and ``SET ... EX``, which the ACL checks
#: too), reads with ``GET`` and checks health with ``PING``. Keys: ``prediction:{id}``
#: behind any ``REDIS_KEY_PREFIX``. No ``EVAL`` of ad-hoc scripts, no ``SELECT`` (db 0),
#: no pub/sub channels.
WORKER_REDIS_RULES = (
    "resetkeys ~*prediction:* resetchannels -@all "
    "+ping +get +set +evalsha +script|load +script|exists"
)
#: Everything, for the operator and the tests' own checks.
ADMIN_REDIS_RULES = "~* &* +@all"


class RedisUser(BaseModel):
    model_config = ConfigDict(frozen=True)

    password: SecretStr
    rules: str


class RedisSecurity(BaseModel):
    """TLS files and ACL users of a secured redis-server."""

    model_config = ConfigDict(frozen=True)

    cert: Path
    key: Path
    ca_file: Path
    auth_clients: Literal["no", "optional", "yes"] = "optional"
    """``optional``: a client may present a certificate (checked against ``ca_file``);
    the ACL user's password is what authenticates."""
    users: dict[str, RedisUser]

    def acl_file(self) -> str:
        """The ``--aclfile`` text: ``default`` off, each user with a SHA-256 of its
        password (never the password itself)."""
        lines = ["user default off resetkeys resetchannels -@all"]
        for name, user in self.users.items():
            digest = hashlib.sha256(user.password.get_secret_value().encode()).hexdigest()
            lines.append(f"user {name} on #{digest} {user.rules}")
        return "\n".join(lines) + "\n"

    def url(self, host: str, port: int, user: str, db: int = 0) -> str:
        password = quote(self.users[user].password.get_secret_value(), safe="")
        return f"rediss://{quote(user, safe='')}:{password}@{host}:{port}/{db}"

    def client_tls(self) -> dict[str, Any]:
        """redis-py keywords that trust the stack's CA."""
        return {"ssl_ca_certs": str(self.ca_file)}


class RedisServer:
    """Run one redis-server for the latest-value store."""

    def __init__(
        self,
        state_dir: Path,
        host: str,
        port: int,
        url: str,
        security: RedisSecurity | None = None,
        admin: str = "admin",
        port_hint: str = "set REDIS_URL to another port",
    ) -> None:
        if host not in LOOPBACK:
            raise StackError(f"the local stack runs Redis on loopback only; REDIS_URL names {host}")
        self.home = state_dir.resolve() / "redis"
        self.host = "127.0.0.1"
        self.port = port
        self.security = security
        self.port_hint = port_hint
        # A secured server is probed as its admin user, over TLS.
        self.url = security.url(self.host, port, admin) if security is not None else url
        self.process = Supervised.server("redis", self.home)

    def pid(self) -> int | None:
        return self.process.pid()

    def ready(self) -> bool:
        tls = self.security.client_tls() if self.security is not None else {}
        return redis_ready(self.url, **tls)

    def _listen_arguments(self) -> list[str]:
        if self.security is None:
            return ["--port", str(self.port)]
        self.home.mkdir(parents=True, exist_ok=True)
        acl_file = self.home / "users.acl"
        acl_file.unlink(missing_ok=True)
        fd = os.open(acl_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.security.acl_file())
        return [
            "--port",
            "0",  # TLS only: no plaintext port at all
            "--tls-port",
            str(self.port),
            "--tls-cert-file",
            str(self.security.cert),
            "--tls-key-file",
            str(self.security.key),
            "--tls-ca-cert-file",
            str(self.security.ca_file),
            "--tls-auth-clients",
            self.security.auth_clients,
            "--aclfile",
            str(acl_file),
        ]

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
        require_free_port(self.host, self.port, self.port_hint)
        self.home.mkdir(parents=True, exist_ok=True)
        self.process.start(
            [
                binary,
                "--bind",
                self.host,
                *self._listen_arguments(),
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

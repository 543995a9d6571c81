"""The secured redis-server's ACL file and URLs (the server itself: test_secure_stack)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pydantic import SecretStr

from devstack.redis_server import (
    ADMIN_REDIS_RULES,
    WORKER_REDIS_RULES,
    RedisSecurity,
    RedisServer,
    RedisUser,
)


@pytest.fixture
def security(tmp_path: Path) -> RedisSecurity:
    return RedisSecurity(
        cert=tmp_path / "server.pem",
        key=tmp_path / "server.key",
        ca_file=tmp_path / "ca.pem",
        users={
            "admin": RedisUser(password=SecretStr("admin pw"), rules=ADMIN_REDIS_RULES),
            "worker": RedisUser(password=SecretStr("w/pw@1"), rules=WORKER_REDIS_RULES),
        },
    )


def test_acl_file_turns_default_off_and_stores_only_hashes(security: RedisSecurity) -> None:
    lines = security.acl_file().splitlines()
    assert lines[0].startswith("user default off ")
    assert "-@all" in lines[0]
    worker = next(line for line in lines if line.startswith("user worker "))
    assert f"#{hashlib.sha256(b'w/pw@1').hexdigest()}" in worker.split()
    assert "w/pw@1" not in security.acl_file() and "admin pw" not in security.acl_file()


def test_worker_may_run_only_what_the_sink_sends(security: RedisSecurity) -> None:
    rules = WORKER_REDIS_RULES.split()
    allowed = {rule[1:] for rule in rules if rule.startswith("+")}
    assert allowed == {"ping", "get", "set", "evalsha", "script|load", "script|exists"}
    assert "-@all" in rules and "resetkeys" in rules and "resetchannels" in rules
    assert [rule for rule in rules if rule.startswith("~")] == ["~*prediction:*"]
    assert "+eval" not in rules and "+select" not in rules


def test_url_quotes_the_password(security: RedisSecurity) -> None:
    assert (
        security.url("127.0.0.1", 6390, "worker") == "rediss://worker:w%2Fpw%401@127.0.0.1:6390/0"
    )


def test_secured_server_listens_on_tls_only(tmp_path: Path, security: RedisSecurity) -> None:
    server = RedisServer(tmp_path, "localhost", 6390, "", security=security)
    args = server._listen_arguments()
    assert args[args.index("--port") + 1] == "0"
    assert args[args.index("--tls-port") + 1] == "6390"
    assert args[args.index("--tls-auth-clients") + 1] == "optional"
    acl_file = Path(args[args.index("--aclfile") + 1])
    assert acl_file.read_text() == security.acl_file()
    assert acl_file.stat().st_mode & 0o077 == 0
    assert server.url.startswith("rediss://admin:")


def test_plain_server_is_unchanged(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, "localhost", 6390, "redis://localhost:6390/0")
    assert server._listen_arguments() == ["--port", "6390"]
    assert server.url == "redis://localhost:6390/0"

"""The stack's refusals: each is one readable line, never a traceback."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.errors import StackError
from devstack.kafka_broker import KafkaBroker, new_cluster_id


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A loopback port some other process already listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TOPIC", "_URL", "_SERVERS"))}
    env.update(STATE_DIR=str(tmp_path / "state"), PYTHONPATH=str(Path(__file__).parents[2]))
    env.update(extra)
    return env


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_redis_port_taken_is_one_line(tmp_path: Path, listening_port: int) -> None:
    env = base_env(tmp_path, REDIS_URL=f"redis://localhost:{listening_port}/0")
    result = run_cli("stack", "up", env=env, cwd=tmp_path)
    assert_one_line_error(result, f"port {listening_port} is taken")


def test_kafka_port_taken_is_refused(tmp_path: Path, listening_port: int) -> None:
    broker = KafkaBroker(tmp_path, "localhost", listening_port, listening_port + 1, "256m")
    with pytest.raises(StackError, match=f"port {listening_port} is taken"):
        broker.start()


def test_missing_redis_server_names_the_package(tmp_path: Path) -> None:
    env = base_env(tmp_path, PATH=str(tmp_path / "empty-bin"), REDIS_URL="redis://localhost:1/0")
    result = run_cli("stack", "up", env=env, cwd=tmp_path)
    assert_one_line_error(result, "redis-server not found", "apt-get install redis-server")


def test_missing_java_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(StackError, match="java not found"):
        KafkaBroker(tmp_path, "localhost", 1, 2, "256m").start()


def test_missing_maven_is_refused_when_jars_are_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    java = subprocess.run(["which", "java"], capture_output=True, text=True).stdout.strip()
    if not java:
        pytest.skip("no java on this machine")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(os.path.realpath(java))
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(StackError, match="mvn not found"):
        KafkaBroker(tmp_path, "localhost", 0, 0, "256m").fetch_jars()


def test_non_loopback_broker_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="loopback only"):
        KafkaBroker(tmp_path, "kafka.example", 9092, 9093, "256m")


def test_bad_setting_is_one_line(tmp_path: Path) -> None:
    env = base_env(tmp_path, KAFKA_BOOTSTRAP_SERVERS="localhost:notaport")
    result = run_cli("stack", "status", env=env, cwd=tmp_path)
    assert_one_line_error(result, "KAFKA_BOOTSTRAP_SERVERS")


def test_unknown_stack_action_is_one_line(tmp_path: Path) -> None:
    result = run_cli("stack", "sideways", env=base_env(tmp_path), cwd=tmp_path)
    assert_one_line_error(result, "invalid choice: 'sideways'")


def test_a_cluster_id_never_starts_with_a_dash() -> None:
    """``kafka-storage format -t -…`` reads the id as an option: such a draw is redrawn."""
    dash_first = uuid.UUID(bytes=bytes([0xF8]) + bytes(15))  # base64 of 0b111110.. is "-"
    plain = uuid.UUID(bytes=bytes([0x10]) + bytes(15))
    assert base64.urlsafe_b64encode(dash_first.bytes).startswith(b"-"), "the draw to refuse"
    draws = iter([dash_first, plain])
    assert new_cluster_id(lambda: next(draws)) == "EAAAAAAAAAAAAAAAAAAAAA"

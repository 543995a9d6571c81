"""A client of the wrong protocol against the real local PLAINTEXT broker is told so in one
line within seconds; an absent broker is still waited for.

The broker answers a TLS ClientHello by closing the connection, and a SASL handshake with
ILLEGAL_SASL_STATE, both at once: before the start-up check probed the listener, both were
retried as "no answer" for KAFKA_STARTUP_TIMEOUT_SECONDS (60 s by default).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from devstack.supervisor import free_port
from streams.connect.kafka_access import KafkaStartupError, wait_for_login
from streams.settings import Settings
from tests.conftest import RunningStack
from tests.harness import run_command

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
#: The issue's bound: a wrong protocol is named within this many seconds.
WITHIN = 10.0
#: What the check waits for a broker that does not answer, by default.
STARTUP_TIMEOUT = 60


def wrong_protocol(stack: RunningStack, protocol: str, **fields: object) -> Settings:
    return Settings(
        kafka_bootstrap_servers=stack.bootstrap,
        kafka_security_protocol=protocol,
        kafka_sasl_username="worker",
        kafka_sasl_password="not-checked",
        kafka_startup_timeout_seconds=STARTUP_TIMEOUT,
        **fields,
    )


CASES = [
    ("SSL", "closed the TLS handshake: is it PLAINTEXT?"),
    ("SASL_SSL", "closed the TLS handshake: is it PLAINTEXT?"),
    ("SASL_PLAINTEXT", "refused the SASL handshake: is it PLAINTEXT?"),
]


@pytest.mark.parametrize(("protocol", "cause"), CASES)
async def test_the_start_up_check_names_a_plaintext_listener_at_once(
    stack: RunningStack, protocol: str, cause: str
) -> None:
    settings = wrong_protocol(stack, protocol)
    began = time.monotonic()
    with pytest.raises(KafkaStartupError) as raised:
        await wait_for_login(settings)
    took = time.monotonic() - began
    line = str(raised.value)
    assert f"the listener at {settings.kafka_address} {cause}" in line, line
    assert f"KAFKA_SECURITY_PROTOCOL={protocol}" in line and "\n" not in line, line
    assert "not-checked" not in line
    assert took < WITHIN, took


@pytest.fixture(scope="module")
def start_up_seconds(stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> float:
    """How long a worker takes to stop on a setting before it connects: Python's start-up
    on this machine as loaded as it is, measured apart from the check."""
    root = tmp_path_factory.mktemp("start-up")
    settings = wrong_protocol(stack, "SSL", kafka_ssl_cafile=root / "absent.pem", state_dir=root)
    began = time.monotonic()
    result = run_command(settings, "worker")
    took = time.monotonic() - began
    assert result.returncode == 2 and "KAFKA_SSL_CAFILE: no such file" in result.stderr
    return took


@pytest.mark.parametrize(("protocol", "cause"), CASES)
def test_the_worker_stops_with_one_line(
    stack: RunningStack, tmp_path: Path, start_up_seconds: float, protocol: str, cause: str
) -> None:
    """As a person sees it: one ``error:`` line, no traceback, exit 2, within seconds of
    the check starting."""
    began = time.monotonic()
    result = run_command(wrong_protocol(stack, protocol, state_dir=tmp_path), "worker")
    took = time.monotonic() - began
    assert result.returncode == 2, result.stderr[-2000:]
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: kafka: the listener at ") and cause in line, line
    assert took - start_up_seconds < WITHIN, (took, start_up_seconds)


def test_a_command_names_the_plaintext_listener_too(stack: RunningStack, tmp_path: Path) -> None:
    result = run_command(
        wrong_protocol(stack, "SASL_SSL", state_dir=tmp_path), "topics", "--dry-run"
    )
    assert result.returncode != 0, result.stdout[-2000:]
    [line] = result.stderr.strip().splitlines()
    assert "closed the TLS handshake: is it PLAINTEXT?" in line, line
    assert "no answer" not in line


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL"])
async def test_an_absent_broker_is_still_waited_for(protocol: str) -> None:
    """Nothing listens on the port: not a listener of another protocol, but a broker that
    may be starting, waited for until KAFKA_STARTUP_TIMEOUT_SECONDS."""
    timeout = 3
    settings = Settings(
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        kafka_security_protocol=protocol,
        kafka_sasl_username="worker",
        kafka_sasl_password="not-checked",
        kafka_startup_timeout_seconds=timeout,
    )
    began = time.monotonic()
    with pytest.raises(KafkaStartupError) as raised:
        await wait_for_login(settings)
    took = time.monotonic() - began
    line = str(raised.value)
    assert line.startswith(f"kafka: no answer from {settings.kafka_bootstrap_servers} within 3s")
    # At least the timeout; at most one more back-off (2 s plus jitter) and a probe.
    assert timeout <= took < timeout + 5, took

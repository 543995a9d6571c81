"""Telling a listener of another protocol from an absent one: the pure rule, then the probe
against real local sockets (a listener that closes what it is sent, as Kafka's PLAINTEXT
listener does with a TLS ClientHello; a silent one; a TLS one; a port nobody listens on)."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from devstack.certs import ensure_certificates
from devstack.supervisor import free_port
from streams.connect.kafka_access import KafkaStartupError, wait_for_login
from streams.connect.listener import (
    PROBES,
    Handshake,
    closes_tls,
    handshake_outcome,
    listener_mismatch,
    mismatch_line,
    no_answer_line,
    no_sasl_line,
    probe_handshake,
)
from streams.settings import HostPort, Settings

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
C, U, T, S = Handshake.CLOSED, Handshake.UNREACHABLE, Handshake.TLS, Handshake.SILENT


# -- the rule -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tcp_error", "tls_error", "expected"),
    [
        (ConnectionRefusedError(111, "Connect call failed"), None, U),
        (TimeoutError(), None, U),
        (OSError(113, "No route to host"), None, U),
        (None, None, T),
        (None, ConnectionResetError(), C),
        (None, BrokenPipeError(), C),
        (None, ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), C),
        (None, asyncio.IncompleteReadError(b"", 5), C),
        (None, ssl.SSLCertVerificationError(1, "certificate verify failed"), T),
        (None, ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), T),
        (None, TimeoutError(), S),
    ],
    ids=[
        "refused",
        "tcp-timeout",
        "no-route",
        "handshake-done",
        "reset",
        "broken-pipe",
        "ssl-eof",
        "eof",
        "untrusted-cert",
        "other-ssl-error",
        "tls-timeout",
    ],
)
def test_one_probe_is_classified_by_the_step_that_failed(
    tcp_error: BaseException | None, tls_error: BaseException | None, expected: Handshake
) -> None:
    assert handshake_outcome(tcp_error, tls_error) is expected


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([C, C, C], True),
        ([C, C, C, C], True),
        ([C, C], False),  # too few to tell from a broker going away
        ([], False),
        ([C, C, U], False),  # gone: a broker stopping, not a listener of another protocol
        ([C, T, C], False),
        ([C, C, S], False),
        ([U, U, U], False),
    ],
)
def test_a_listener_closes_tls_only_when_every_probe_was_closed(
    outcomes: list[Handshake], expected: bool
) -> None:
    assert PROBES == 3  # the cases above are written for three probes
    assert closes_tls(outcomes) is expected


def test_the_lines_name_the_address_the_cause_and_the_setting() -> None:
    line = mismatch_line(HostPort("broker-1", 9093), "SASL_SSL")
    assert line == (
        "kafka: the listener at broker-1:9093 closed the TLS handshake: is it PLAINTEXT? "
        "(KAFKA_SECURITY_PROTOCOL=SASL_SSL speaks TLS to it; check the port and "
        "KAFKA_SECURITY_PROTOCOL)"
    )
    assert no_sasl_line(HostPort("broker-1", 9093), "SASL_SSL") == (
        "kafka: the listener at broker-1:9093 refused the SASL handshake: is it SSL? "
        "(KAFKA_SECURITY_PROTOCOL=SASL_SSL logs in with SASL there; check the port and "
        "KAFKA_SECURITY_PROTOCOL)"
    )
    assert "is it PLAINTEXT?" in no_sasl_line(HostPort("b", 1), "SASL_PLAINTEXT")
    settings = Settings(kafka_bootstrap_servers="a:1,b:2")
    assert no_answer_line(settings, 60, "ConnectionRefusedError") == (
        "kafka: no answer from a:1,b:2 within 60s (ConnectionRefusedError)"
    )


# -- the probe, against real sockets ------------------------------------------------------


@asynccontextmanager
async def listening(
    handler: Handler, context: ssl.SSLContext | None = None
) -> AsyncIterator[HostPort]:
    """A local server running ``handler`` per connection; its connections are closed at
    the end (asyncio's server.close() leaves them open)."""
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await handler(reader, writer)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    try:
        yield HostPort("127.0.0.1", server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


async def close_after_first_bytes(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """What Kafka's PLAINTEXT listener does with a ClientHello: reads a size, drops it."""
    await reader.read(4)
    writer.close()


async def say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # until the client gives up and closes


def tls_settings(address: HostPort, protocol: str = "SSL", **fields: object) -> Settings:
    return Settings(
        kafka_bootstrap_servers=str(address), kafka_security_protocol=protocol, **fields
    )


async def test_a_listener_that_closes_the_handshake_is_named_quickly() -> None:
    async with listening(close_after_first_bytes) as address:
        context = ssl.create_default_context()
        assert await probe_handshake(address, context) is Handshake.CLOSED
        began = time.monotonic()
        assert await listener_mismatch(tls_settings(address)) == mismatch_line(address, "SSL")
        assert time.monotonic() - began < 2.0


async def test_the_first_closing_listener_of_the_bootstrap_list_is_named() -> None:
    nobody = HostPort("127.0.0.1", free_port())
    async with listening(close_after_first_bytes) as address:
        settings = Settings(
            kafka_bootstrap_servers=f"{nobody},{address}", kafka_security_protocol="SSL"
        )
        assert await listener_mismatch(settings) == mismatch_line(address, "SSL")


async def test_nobody_listening_is_unreachable_not_a_mismatch() -> None:
    address = HostPort("127.0.0.1", free_port())
    assert await probe_handshake(address, ssl.create_default_context()) is Handshake.UNREACHABLE
    assert await listener_mismatch(tls_settings(address)) is None


async def test_a_silent_listener_is_silent_not_a_mismatch() -> None:
    async with listening(say_nothing) as address:
        context = ssl.create_default_context()
        assert await probe_handshake(address, context, timeout=0.3) is Handshake.SILENT


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
async def test_protocols_without_tls_take_a_closed_connection_for_no_mismatch(
    protocol: str,
) -> None:
    """No TLS to cut; the SASL handshake dropped is not the broker's ILLEGAL_SASL_STATE."""
    async with listening(close_after_first_bytes) as address:
        settings = tls_settings(address, protocol, kafka_sasl_username="u", kafka_sasl_password="p")
        assert await listener_mismatch(settings) is None


@pytest.mark.parametrize("trusted", [True, False], ids=["our-ca", "another-ca"])
async def test_a_tls_listener_is_tls_whether_or_not_we_trust_it(
    tmp_path: Path, trusted: bool
) -> None:
    certs = ensure_certificates(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(certs.server.chain, certs.server.key)
    async with listening(say_nothing, server_context) as address:
        client = ssl.create_default_context(cafile=certs.ca if trusted else certs.other_ca)
        assert await probe_handshake(address, client) is Handshake.TLS


# -- the start-up check ---------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL"])
async def test_the_start_up_check_names_the_closing_listener_instead_of_waiting(
    protocol: str,
) -> None:
    async with listening(close_after_first_bytes) as address:
        settings = tls_settings(
            address,
            protocol,
            kafka_sasl_username="worker",
            kafka_sasl_password="pw",
            kafka_startup_timeout_seconds=60,
        )
        began = time.monotonic()
        with pytest.raises(KafkaStartupError) as raised:
            await wait_for_login(settings)
        took = time.monotonic() - began
    assert str(raised.value) == mismatch_line(address, protocol)
    assert took < 5, took  # not the 60 s a broker that is not there would get

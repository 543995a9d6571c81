"""Why Kafka gave no usable answer: nobody listens, or the listener speaks another protocol.

A client set to SSL or SASL_SSL that meets a PLAINTEXT listener has its TLS handshake cut:
the broker reads the ClientHello as the size of a Kafka request, finds it absurd, and
closes the connection. The client sees a ConnectionResetError, as from a broker going away,
and would wait ``KAFKA_STARTUP_TIMEOUT_SECONDS`` for a broker that answered at once. A SASL
client on a listener without SASL is told ILLEGAL_SASL_STATE, which aiokafka raises as any
other broker error, and would wait as long.

:func:`listener_mismatch` tells these from an absent broker. It probes each bootstrap
address in two steps, the TCP connection first and the TLS handshake second, a few times in
a row; the rule (:func:`closes_tls`) is pure: a listener that accepts every connection and
closes every handshake speaks something else. One refused or unreachable connection means
absent (waited for), and one handshake that completes means TLS is spoken there (whatever
else is wrong is the login's own error to tell). Then, for SASL, one SASL handshake. The
worker's start-up check and the commands' clients both ask it, and word their other lines
with :func:`no_answer_line`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from enum import StrEnum

from aiokafka.conn import create_conn
from aiokafka.errors import IllegalSaslStateError, KafkaError

from streams.connect.kafka import kafka_options, kafka_ssl_context
from streams.settings import HostPort, Settings, parse_host_port

#: Handshakes a listener must close, all of them, before it is called the wrong protocol:
#: one could be a broker shutting down.
PROBES = 3
PROBE_GAP_SECONDS = 0.2
PROBE_TIMEOUT_SECONDS = 2.0


class Handshake(StrEnum):
    """What one probe of a listener saw."""

    UNREACHABLE = "unreachable"  # no TCP connection: nothing listens, or no route there
    CLOSED = "closed"  # TCP accepted, then closed or reset during the TLS handshake
    SILENT = "silent"  # TCP accepted, no word of the handshake back in time
    TLS = "tls"  # the listener spoke TLS (even if it refused our certificate or CA)


def handshake_outcome(
    tcp_error: BaseException | None, tls_error: BaseException | None
) -> Handshake:
    """Classify one probe from the error of its TCP step and that of its TLS step."""
    if tcp_error is not None:
        return Handshake.UNREACHABLE
    if tls_error is None:
        return Handshake.TLS
    # ssl.SSLEOFError ("EOF occurred in violation of protocol") is the same close seen
    # from inside the TLS layer; every other SSLError is TLS spoken back to us.
    if isinstance(tls_error, ConnectionError | EOFError | ssl.SSLEOFError):
        return Handshake.CLOSED
    if isinstance(tls_error, ssl.SSLError):
        return Handshake.TLS
    return Handshake.SILENT


def closes_tls(outcomes: Sequence[Handshake]) -> bool:
    """True when ``outcomes`` are :data:`PROBES` handshakes, every one closed."""
    return len(outcomes) >= PROBES and all(o is Handshake.CLOSED for o in outcomes)


def mismatch_line(address: HostPort, protocol: str) -> str:
    """The one line for a listener that closes our TLS handshake."""
    return (
        f"kafka: the listener at {address} closed the TLS handshake: is it PLAINTEXT? "
        f"(KAFKA_SECURITY_PROTOCOL={protocol} speaks TLS to it; check the port and "
        "KAFKA_SECURITY_PROTOCOL)"
    )


def no_sasl_line(address: HostPort, protocol: str) -> str:
    """The one line for a listener that takes no SASL."""
    without = protocol.removeprefix("SASL_")
    return (
        f"kafka: the listener at {address} refused the SASL handshake: is it {without}? "
        f"(KAFKA_SECURITY_PROTOCOL={protocol} logs in with SASL there; check the port and "
        "KAFKA_SECURITY_PROTOCOL)"
    )


def no_answer_line(settings: Settings, seconds: float, detail: str) -> str:
    """The one line for brokers that gave no answer within ``seconds``."""
    return (
        f"kafka: no answer from {settings.kafka_bootstrap_servers} within {seconds:.0f}s ({detail})"
    )


def bootstrap_addresses(settings: Settings) -> list[HostPort]:
    return [parse_host_port(part, 9092) for part in settings.kafka_bootstrap_servers.split(",")]


async def probe_handshake(
    address: HostPort, context: ssl.SSLContext, timeout: float = PROBE_TIMEOUT_SECONDS
) -> Handshake:
    """Open a TCP connection to ``address``, then start TLS on it (each step given
    ``timeout`` seconds); close it either way."""
    # Transports, not streams: a StreamWriter whose start_tls failed never sees its
    # connection lost (the TLS layer took its place), so wait_closed would wait for ever.
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            transport, protocol = await loop.create_connection(
                asyncio.Protocol, address.host, address.port
            )
    except (OSError, TimeoutError) as exc:
        return handshake_outcome(exc, None)
    tls_error: BaseException | None = None
    try:
        async with asyncio.timeout(timeout):
            tls = await loop.start_tls(transport, protocol, context, server_hostname=address.host)
        tls.close()
    except (OSError, EOFError, TimeoutError) as exc:  # ssl.SSLError is an OSError
        tls_error = exc
    finally:
        transport.close()
    return handshake_outcome(None, tls_error)


async def closes_every_handshake(address: HostPort, context: ssl.SSLContext) -> bool:
    """Whether ``address`` closes :data:`PROBES` TLS handshakes in a row (about half a
    second when it does; one refused connection where nobody listens)."""
    outcomes: list[Handshake] = []
    while len(outcomes) < PROBES:
        if outcomes:
            await asyncio.sleep(PROBE_GAP_SECONDS)
        outcomes.append(await probe_handshake(address, context))
        if outcomes[-1] is not Handshake.CLOSED:
            break  # no later probe can make this listener one that closes them all
    return closes_tls(outcomes)


async def refuses_sasl(address: HostPort, settings: Settings) -> bool:
    """Whether ``address`` answers our SASL handshake that it takes no SASL (Kafka's
    ILLEGAL_SASL_STATE on a PLAINTEXT or SSL listener). Any other outcome is the login's
    own to report."""
    security = {k: v for k, v in kafka_options(settings).items() if k != "bootstrap_servers"}
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            conn = await create_conn(
                address.host,
                address.port,
                request_timeout_ms=int(PROBE_TIMEOUT_SECONDS * 1000),
                **security,
            )
    except IllegalSaslStateError:
        return True
    except (OSError, TimeoutError, KafkaError):
        return False
    conn.close()
    return False


async def listener_mismatch(settings: Settings) -> str | None:
    """The one line naming the first bootstrap listener that speaks another protocol than
    ``KAFKA_SECURITY_PROTOCOL`` (it closes our TLS handshake, or refuses SASL), or None.
    PLAINTEXT has nothing to probe: a PLAINTEXT client on a TLS or SASL listener is
    dropped at its first request, which the callers report as they are."""
    protocol = settings.kafka_security_protocol
    context = kafka_ssl_context(settings)
    for address in bootstrap_addresses(settings):
        if context is not None and await closes_every_handshake(address, context):
            return mismatch_line(address, protocol)
        if protocol.startswith("SASL") and await refuses_sasl(address, settings):
            return no_sasl_line(address, protocol)
    return None

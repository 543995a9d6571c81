"""The worker's start-up check of Kafka: can it log in, and may it do what it must?

Without it, the failures of a secured cluster look like other things: a refused login is
retried for ever as "unable to bootstrap", a missing group ACL is a consumer that never
joins (a silent hang), a missing Write is a dead letter per event. So before Faust starts:

- one connection to the first bootstrap server tells a permanent refusal (bad credentials,
  an untrusted certificate, a mechanism the broker does not offer) from a broker that is
  not there yet. The first ends start-up at once; the second is waited for, up to
  ``KAFKA_STARTUP_TIMEOUT_SECONDS``, unless a probe finds a listener that closes our TLS
  handshake or refuses SASL (:mod:`streams.connect.listener`): that is a listener of
  another protocol, named in one line within seconds;
- then every Read and Write of :func:`streams.connect.kafka_acls.worker_acls` is probed
  without side effects: a Fetch of at most one byte for Read, and for Write a Produce
  request with no records (the broker checks the ACL before it refuses the empty batch as
  INVALID_RECORD, so nothing is written). The group's Read is probed by its coordinator
  lookup. Every missing ACL is named in the one error line, as ``kafka-acls`` would grant it.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from aiokafka import AIOKafkaClient
from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    AuthenticationMethodNotSupported,
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.protocol.coordination import FindCoordinatorRequest
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.protocol.produce import ProduceRequest

from streams.backoff import retrying
from streams.connect.kafka import KafkaConfigError, kafka_options
from streams.connect.kafka_acls import KafkaAcl, Operation, Pattern, Resource, worker_acls
from streams.connect.listener import listener_mismatch, no_answer_line
from streams.settings import Settings

TOPIC_AUTHORIZATION_FAILED = 29
GROUP_AUTHORIZATION_FAILED = 30
REQUEST_TIMEOUT_MS = 5000
RETRY_INITIAL_SECONDS = 0.5
RETRY_MAXIMUM_SECONDS = 2.0

_REFUSALS = (
    SaslAuthenticationFailed,
    AuthenticationFailedError,
    AuthenticationMethodNotSupported,
    UnsupportedSaslMechanismError,
    ssl.SSLError,
)
_NOT_ANSWERING = (OSError, TimeoutError, KafkaError)


class KafkaStartupError(Exception):
    """Start-up cannot go on; the message is the one line to print."""


def principal(settings: Settings) -> str:
    """The principal the broker will see, as far as the settings tell."""
    if settings.kafka_security_protocol.startswith("SASL"):
        return f"User:{settings.kafka_sasl_username}"
    if settings.kafka_ssl_certfile is not None:
        return "the principal of KAFKA_SSL_CERTFILE"
    return "User:ANONYMOUS"


class ProtocolMismatch(Exception):
    """The broker took the TCP connection, then closed it at our first words."""


async def _connect_once(settings: Settings, options: dict[str, Any]) -> None:
    """Connect, log in and ask for metadata, as every client will: the last step catches a
    TLS-only client on a listener that expects SASL (the handshake alone succeeds)."""
    address = settings.kafka_address
    security = {k: v for k, v in options.items() if k != "bootstrap_servers"}
    try:
        conn = await create_conn(
            address.host, address.port, request_timeout_ms=REQUEST_TIMEOUT_MS, **security
        )
    except KafkaConnectionError as exc:
        # Refused or unreachable sockets are OSErrors; a KafkaConnectionError here means
        # the broker accepted the connection and dropped it while we spoke: a listener
        # that speaks another protocol than KAFKA_SECURITY_PROTOCOL, not a passing fault.
        raise ProtocolMismatch(_short(exc)) from None
    try:
        await conn.send(MetadataRequest([]))
    except KafkaConnectionError as exc:
        raise ProtocolMismatch(_short(exc)) from None
    finally:
        conn.close()


async def wait_for_login(settings: Settings) -> None:
    """Return once the first bootstrap server accepts our login; raise at once for a
    refusal or a listener of another protocol, and once
    ``KAFKA_STARTUP_TIMEOUT_SECONDS`` pass for a broker not answering."""
    try:
        options = kafka_options(settings)
    except KafkaConfigError as exc:
        raise KafkaStartupError(f"kafka: {exc}") from None
    where = settings.kafka_bootstrap_servers
    try:
        async for attempt in retrying(
            retry_on=_not_answering,
            initial=RETRY_INITIAL_SECONDS,
            maximum=RETRY_MAXIMUM_SECONDS,
            give_up_after=settings.kafka_startup_timeout_seconds,
        ):
            with attempt:
                await _login_once(settings, options)
    except _REFUSALS as exc:
        raise KafkaStartupError(
            f"kafka: {where} refused {principal(settings)} over "
            f"{settings.kafka_security_protocol}: {_short(exc)}"
        ) from None
    except ProtocolMismatch as exc:
        raise KafkaStartupError(
            f"kafka: {where} closed the connection when spoken to in "
            f"{settings.kafka_security_protocol} ({exc}): the listener expects another "
            "protocol or a client certificate (check KAFKA_SECURITY_PROTOCOL, the port "
            "and KAFKA_SSL_CERTFILE)"
        ) from None
    except _NOT_ANSWERING as exc:
        raise KafkaStartupError(
            no_answer_line(settings, settings.kafka_startup_timeout_seconds, _short(exc))
        ) from None


async def _login_once(settings: Settings, options: dict[str, Any]) -> None:
    """One login; a failure that looks like an absent broker is first checked for a
    listener of another protocol (its reset or ILLEGAL_SASL_STATE look like one)."""
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT_MS / 1000):
            await _connect_once(settings, options)
    except Exception as exc:
        if not _not_answering(exc):
            raise
        mismatch = await listener_mismatch(settings)
        if mismatch is not None:
            raise KafkaStartupError(mismatch) from None
        raise


def _not_answering(exc: BaseException) -> bool:
    """A failure worth waiting out: no broker yet, not a refusal (ssl.SSLError is an
    OSError, and the SASL refusals are KafkaErrors)."""
    return isinstance(exc, _NOT_ANSWERING) and not isinstance(exc, _REFUSALS)


def _short(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0][:200]


def _probed(acl: KafkaAcl) -> bool:
    return acl.pattern is Pattern.LITERAL and acl.operation in (Operation.READ, Operation.WRITE)


async def missing_acls(settings: Settings) -> list[KafkaAcl]:
    """The worker's Read and Write ACLs this principal does not hold (Create is left to
    topic creation, which names the topic it may not create)."""
    needed = [acl for acl in worker_acls(settings) if _probed(acl)]
    client = AIOKafkaClient(**kafka_options(settings), request_timeout_ms=REQUEST_TIMEOUT_MS)
    await client.bootstrap()
    try:
        node = client.get_random_node()
        reads = [a.name for a in needed if a.resource is Resource.TOPIC and a.operation == "Read"]
        writes = [a.name for a in needed if a.resource is Resource.TOPIC and a.operation == "Write"]
        denied: set[tuple[str, str]] = set()
        fetch = await client.send(
            node, FetchRequest(0, 0, 1, 0, [(topic, [(0, 0, 1)]) for topic in reads])
        )
        denied |= _denied(fetch.topics, "Read")
        produce = await client.send(
            node, ProduceRequest(None, 1, REQUEST_TIMEOUT_MS, [(t, [(0, b"")]) for t in writes])
        )
        denied |= _denied(produce.topics, "Write")
        for acl in needed:
            if acl.resource is Resource.GROUP and await _group_denied(client, node, acl.name):
                denied.add((acl.name, "Read"))
    finally:
        await client.close()
    return [acl for acl in needed if (acl.name, acl.operation.value) in denied]


def _denied(topics: Any, operation: str) -> set[tuple[str, str]]:
    out = set()
    for topic, partitions in topics:
        # Each partition answer starts (partition, error_code, ...) in Fetch and Produce.
        if any(partition[1] == TOPIC_AUTHORIZATION_FAILED for partition in partitions):
            out.add((topic, operation))
    return out


async def _group_denied(client: AIOKafkaClient, node: int, group: str) -> bool:
    try:
        response = await client.send(node, FindCoordinatorRequest(group, 0))
    except GroupAuthorizationFailedError:
        return True
    return getattr(response, "error_code", 0) == GROUP_AUTHORIZATION_FAILED


async def check_kafka_access(settings: Settings) -> None:
    """The start-up check: a login, then the ACLs; :class:`KafkaStartupError` if either
    fails, naming every missing ACL."""
    await wait_for_login(settings)
    try:
        missing = await missing_acls(settings)
    except (OSError, TimeoutError, KafkaError) as exc:
        raise KafkaStartupError(f"kafka: checking the ACLs failed: {_short(exc)}") from None
    if missing:
        who = principal(settings)
        rules = "; ".join(
            f"{acl.operation.value} on {acl.resource.value}:{acl.name}" for acl in missing
        )
        raise KafkaStartupError(
            f"kafka: {who} lacks {len(missing)} ACL(s) the worker needs: {rules} "
            f"(grant with kafka-acls --allow-principal {who} ...; README: Least privilege)"
        )

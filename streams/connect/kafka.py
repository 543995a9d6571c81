"""The Kafka connection settings, as Faust and aiokafka take them: one path for every client.

The worker (Faust), its admin and replica readers, the commands, the dev stack's probes and
the benchmarks all connect through :func:`kafka_options`, so a security setting applies to
every one of them or to none. The aiokafka keywords are derived from Faust's own
credentials object by Faust's own translation, so the worker and the plain clients cannot
disagree about how a protocol maps to keywords.
"""

from __future__ import annotations

import ssl
from typing import Any

from faust.auth import SASLCredentials, SSLCredentials
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from faust.types.auth import CredentialsT

from streams.settings import Settings


class KafkaConfigError(ValueError):
    """The Kafka settings cannot work (a missing file, a password without a user...)."""


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of SSL and SASL_SSL (None for the plaintext protocols)."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    for name in ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile"):
        path = getattr(settings, name)
        if path is not None and not path.is_file():
            raise KafkaConfigError(f"{name.upper()}: no such file: {path}")
    if (settings.kafka_ssl_certfile is None) != (settings.kafka_ssl_keyfile is None):
        raise KafkaConfigError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together")
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    try:
        context = ssl.create_default_context(cafile=cafile)
        if settings.kafka_ssl_certfile is not None and settings.kafka_ssl_keyfile is not None:
            context.load_cert_chain(
                str(settings.kafka_ssl_certfile), str(settings.kafka_ssl_keyfile)
            )
    except (ssl.SSLError, OSError) as exc:
        raise KafkaConfigError(f"Kafka TLS files do not load: {exc}") from None
    context.check_hostname = settings.kafka_ssl_check_hostname
    return context


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """Faust's ``broker_credentials`` for the settings (None for PLAINTEXT).

    faust-streaming's SASLCredentials speaks SASL_SSL only when it is given an SSL
    context, so SASL_SSL always gets one here.
    """
    protocol = settings.kafka_security_protocol
    context = kafka_ssl_context(settings)
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        assert context is not None
        return SSLCredentials(context)
    if not settings.kafka_sasl_username or settings.kafka_sasl_password is None:
        raise KafkaConfigError(
            f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
        )
    return SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=context,
    )


def kafka_options(settings: Settings) -> dict[str, Any]:
    """aiokafka client keywords: the bootstrap servers and the security settings."""
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        **credentials_to_aiokafka_auth(faust_credentials(settings)),
    }

"""Kafka settings to client keywords: one translation for Faust and aiokafka."""

from __future__ import annotations

from pathlib import Path

import pytest
from faust.auth import SASLCredentials, SSLCredentials

from streams.connect.kafka import KafkaConfigError, faust_credentials, kafka_options
from streams.settings import Settings


def test_plaintext_needs_no_credentials() -> None:
    assert faust_credentials(Settings()) is None
    assert kafka_options(Settings()) == {
        "bootstrap_servers": "localhost:9092",
        "security_protocol": "PLAINTEXT",
    }


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_gets_an_ssl_context_so_faust_speaks_sasl_ssl(mechanism: str) -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="worker",
        kafka_sasl_password="pw",
    )
    credentials = faust_credentials(settings)
    assert isinstance(credentials, SASLCredentials)
    assert credentials.ssl_context is not None
    options = kafka_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == mechanism
    assert options["sasl_plain_username"] == "worker"
    assert options["sasl_plain_password"] == "pw"
    assert "pw" not in repr(credentials) and "pw" not in repr(settings)


def test_sasl_plaintext_has_no_tls() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u", kafka_sasl_password="p"
    )
    options = kafka_options(settings)
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["ssl_context"] is None


def test_ssl_without_hostname_check() -> None:
    settings = Settings(kafka_security_protocol="SSL", kafka_ssl_check_hostname=False)
    credentials = faust_credentials(settings)
    assert isinstance(credentials, SSLCredentials)
    assert credentials.context.check_hostname is False
    assert kafka_options(settings)["security_protocol"] == "SSL"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs KAFKA_SASL_USERNAME"),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": Path("/nonexistent/ca.pem")},
            "KAFKA_SSL_CAFILE: no such file",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_certfile": Path(__file__)},
            "go together",
        ),
    ],
)
def test_unusable_settings_say_which_in_one_line(fields: dict[str, object], message: str) -> None:
    with pytest.raises(KafkaConfigError, match=message) as caught:
        kafka_options(Settings(**fields))
    assert "\n" not in str(caught.value)


def test_a_file_that_is_no_certificate_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(KafkaConfigError, match="do not load"):
        kafka_options(Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=bad))

"""The secured broker's configuration as rendered, and its SCRAM credentials at format.

(The plaintext broker's refusals are in test_kafka_broker.py.)
"""

from __future__ import annotations

import base64
import hashlib
import re
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from devstack.kafka_broker import (
    SCRAM_ITERATIONS,
    BrokerSecurity,
    KafkaBroker,
    scram_credential,
)

USERS = {"admin": "admin-pw-1", "worker": "worker-pw-2", "client": "client-pw-3"}


@pytest.fixture
def security(tmp_path: Path) -> BrokerSecurity:
    return BrokerSecurity(
        ssl_port=20002,
        internal_port=20003,
        ca_file=tmp_path / "ca.pem",
        keystore=tmp_path / "broker-bundle.pem",
        users={name: SecretStr(pw) for name, pw in USERS.items()},
    )


def _properties(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def _config(tmp_path: Path, security: BrokerSecurity | None) -> dict[str, str]:
    broker = KafkaBroker(tmp_path, "localhost", 20001, 20000, "256m", security=security)
    return _properties(broker.render_config())


def test_listeners_and_their_protocols(tmp_path: Path, security: BrokerSecurity) -> None:
    config = _config(tmp_path, security)
    assert config["listeners"] == (
        "SASL_SSL://127.0.0.1:20001,SSL://127.0.0.1:20002,INTERNAL://127.0.0.1:20003,"
        "CONTROLLER://127.0.0.1:20000"
    )
    assert config["advertised.listeners"] == (
        "SASL_SSL://127.0.0.1:20001,SSL://127.0.0.1:20002,INTERNAL://127.0.0.1:20003"
    )
    protocols = dict(p.split(":") for p in config["listener.security.protocol.map"].split(","))
    assert protocols == {
        "CONTROLLER": "SSL",
        "SASL_SSL": "SASL_SSL",
        "SSL": "SSL",
        "INTERNAL": "SSL",
    }
    assert config["inter.broker.listener.name"] == "INTERNAL"
    assert config["controller.listener.names"] == "CONTROLLER"
    for listener in ("ssl", "internal", "controller"):
        assert config[f"listener.name.{listener}.ssl.client.auth"] == "required"


def test_tls_is_pem_and_the_principal_is_the_cn(tmp_path: Path, security: BrokerSecurity) -> None:
    config = _config(tmp_path, security)
    assert config["ssl.keystore.type"] == config["ssl.truststore.type"] == "PEM"
    assert config["ssl.keystore.location"] == str(security.keystore)
    assert config["ssl.truststore.location"] == str(security.ca_file)
    assert config["ssl.endpoint.identification.algorithm"] == "https"
    rule, fallback = config["ssl.principal.mapping.rules"].rsplit(",", 1)
    assert fallback == "DEFAULT"
    match = re.fullmatch(r"RULE:(.*)/(.*)/", rule)
    assert match is not None
    pattern, replacement = match[1], match[2].replace("$1", r"\1")
    assert re.sub(pattern, replacement, "CN=worker") == "worker"


def test_authorizer_denies_by_default_with_two_super_users(
    tmp_path: Path, security: BrokerSecurity
) -> None:
    config = _config(tmp_path, security)
    assert config["authorizer.class.name"] == (
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    )
    assert config["allow.everyone.if.no.acl.found"] == "false"
    assert config["super.users"] == "User:admin;User:broker"
    assert config["auto.create.topics.enable"] == "false"


def test_sasl_mechanisms_and_plain_users(tmp_path: Path, security: BrokerSecurity) -> None:
    config = _config(tmp_path, security)
    assert config["listener.name.sasl_ssl.sasl.enabled.mechanisms"] == (
        "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN"
    )
    for mechanism in ("scram-sha-256", "scram-sha-512"):
        assert (
            "ScramLoginModule required;"
            in config[f"listener.name.sasl_ssl.{mechanism}.sasl.jaas.config"]
        )
    plain = config["listener.name.sasl_ssl.plain.sasl.jaas.config"]
    for name, password in USERS.items():
        assert f'user_{name}="{password}"' in plain


def test_anonymous_listener_only_when_asked(tmp_path: Path, security: BrokerSecurity) -> None:
    assert "ANONYMOUS" not in _config(tmp_path, security)["listeners"]
    with_it = security.model_copy(update={"anonymous_port": 20004})
    config = _config(tmp_path, with_it)
    assert "ANONYMOUS://127.0.0.1:20004" in config["advertised.listeners"]
    assert "ANONYMOUS:PLAINTEXT" in config["listener.security.protocol.map"]
    assert with_it.ports() == [20002, 20003, 20004]


def test_plaintext_broker_is_unchanged(tmp_path: Path) -> None:
    config = _config(tmp_path, None)
    assert config["listeners"] == "PLAINTEXT://127.0.0.1:20001,CONTROLLER://127.0.0.1:20000"
    assert config["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    assert config["auto.create.topics.enable"] == "true"
    assert not any(key.startswith(("ssl.", "authorizer", "super.users")) for key in config)


def test_config_file_is_private(tmp_path: Path, security: BrokerSecurity) -> None:
    broker = KafkaBroker(tmp_path, "localhost", 20001, 20000, "256m", security=security)
    broker._write_config()
    assert stat.S_IMODE(broker.config.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("mechanism", "algorithm"), [("SCRAM-SHA-256", "sha256"), ("SCRAM-SHA-512", "sha512")]
)
def test_scram_credential_is_salted_and_checks_out(mechanism: str, algorithm: str) -> None:
    value = scram_credential(mechanism, "worker", "s3cret")
    assert "s3cret" not in value
    match = re.fullmatch(
        rf'{mechanism}=\[name=worker,iterations=(\d+),salt="([^"]+)",saltedpassword="([^"]+)"\]',
        value,
    )
    assert match is not None
    iterations, salt, salted = int(match[1]), base64.b64decode(match[2]), base64.b64decode(match[3])
    assert iterations == SCRAM_ITERATIONS >= 4096
    assert salted == hashlib.pbkdf2_hmac(algorithm, b"s3cret", salt, iterations)
    assert scram_credential(mechanism, "worker", "s3cret") != value, "a fresh salt each time"


def test_scram_arguments_cover_every_user_and_both_mechanisms(security: BrokerSecurity) -> None:
    args = security.scram_arguments()
    values = args[1::2]
    assert args[0::2] == ["--add-scram"] * len(values) == ["--add-scram"] * 6
    assert {(v.split("=")[0], v.split("name=")[1].split(",")[0]) for v in values} == {
        (m, u) for m in ("SCRAM-SHA-256", "SCRAM-SHA-512") for u in USERS
    }
    assert not any(pw in " ".join(args) for pw in USERS.values())


def test_client_config_is_scram_512_over_tls(tmp_path: Path, security: BrokerSecurity) -> None:
    from devstack.certs import ensure_certificates

    made = ensure_certificates(tmp_path)
    security = security.model_copy(update={"ca_file": made.ca})
    config = security.client_config("worker")
    assert config["security_protocol"] == "SASL_SSL"
    assert config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (config["sasl_plain_username"], config["sasl_plain_password"]) == (
        "worker",
        "worker-pw-2",
    )
    assert config["ssl_context"].check_hostname

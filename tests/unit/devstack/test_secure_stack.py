"""The secured stack's files and the environment it hands out (no server started here)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from devstack.cli import PRINCIPALS
from devstack.errors import StackError
from devstack.secure_stack import (
    KAFKA_USERS,
    Credentials,
    SecureEndpoints,
    SecurePorts,
    SecureStack,
)
from devstack.topics import run_names
from streams.settings import Settings

#: Every variable a worker's environment may carry: the contract's names.
CONTRACT_VARIABLES = {
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CAFILE",
    "KAFKA_SSL_CERTFILE",
    "KAFKA_SSL_KEYFILE",
    "REDIS_URL",
    "REDIS_SSL_CAFILE",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
}


@pytest.fixture
def stack(tmp_path: Path) -> SecureStack:
    return SecureStack(tmp_path / "secure", Settings(**run_names("u1"), state_dir=tmp_path))


@pytest.fixture
def endpoints(stack: SecureStack) -> SecureEndpoints:
    return stack.endpoints()


def test_credentials_are_made_once_and_kept_private(stack: SecureStack) -> None:
    first = stack.endpoints()
    assert stat.S_IMODE(stack.credentials_file.stat().st_mode) == 0o600
    assert stack.endpoints().kafka_passwords == first.kafka_passwords
    stored = json.loads(stack.credentials_file.read_text())
    assert set(stored["kafka"]) == set(KAFKA_USERS) == set(PRINCIPALS)
    assert set(stored["redis"]) == set(stored["mlflow"]) == {"admin", "worker"}
    passwords = [pw for group in ("kafka", "redis", "mlflow") for pw in stored[group].values()]
    assert len(set(passwords)) == len(passwords), "no password is shared"
    assert all(len(pw) >= 32 for pw in passwords)


def test_new_credentials_drop_the_state_that_holds_old_ones(stack: SecureStack) -> None:
    stack.endpoints()
    data = stack.home / "kafka" / "data"
    data.mkdir(parents=True)
    (data / "meta.properties").write_text("formatted with the old SCRAM users")
    auth_db = stack.home / "mlflow" / "basic_auth.db"
    auth_db.parent.mkdir(parents=True)
    auth_db.write_text("old users")
    stack.endpoints()
    assert data.exists() and auth_db.exists(), "kept while the credentials are"
    stack.credentials_file.unlink()
    stack.endpoints()
    assert not data.exists() and not auth_db.exists()


def test_ports_are_chosen_once(stack: SecureStack, tmp_path: Path) -> None:
    first = stack.endpoints()
    assert SecurePorts.model_validate_json(stack.ports_file.read_text()).kafka == int(
        first.kafka_bootstrap.rsplit(":", 1)[1]
    )
    assert stack.endpoints().kafka_bootstrap == first.kafka_bootstrap
    assert first.kafka_anonymous_bootstrap is None
    with_anonymous = SecureStack(stack.home, stack.settings, anonymous_listener=True).endpoints()
    assert with_anonymous.kafka_anonymous_bootstrap is not None
    assert len({first.kafka_bootstrap, first.kafka_mtls_bootstrap, first.redis_address}) == 3


def test_worker_environment_is_complete(endpoints: SecureEndpoints) -> None:
    env = endpoints.env_for("worker")
    assert set(env) == CONTRACT_VARIABLES - {"KAFKA_SSL_CERTFILE", "KAFKA_SSL_KEYFILE"}
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == endpoints.kafka_bootstrap
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["KAFKA_SASL_USERNAME"] == "worker"
    assert env["KAFKA_SASL_PASSWORD"] == endpoints.kafka_passwords["worker"].get_secret_value()
    assert env["KAFKA_SSL_CAFILE"] == env["REDIS_SSL_CAFILE"] == str(endpoints.ca_file)
    redis_password = endpoints.redis_passwords["worker"].get_secret_value()
    assert env["REDIS_URL"] == f"rediss://worker:{redis_password}@{endpoints.redis_address}/0"
    assert env["MLFLOW_TRACKING_URI"] == endpoints.mlflow_uri
    assert env["MLFLOW_TRACKING_USERNAME"] == "worker"
    Settings(**{k.lower(): v for k, v in env.items() if k.lower() in Settings.model_fields})


def test_mtls_environment_uses_the_client_certificate(endpoints: SecureEndpoints) -> None:
    env = endpoints.env_for("worker", mtls=True)
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SSL"
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == endpoints.kafka_mtls_bootstrap
    assert (env["KAFKA_SSL_CERTFILE"], env["KAFKA_SSL_KEYFILE"]) == (
        str(endpoints.client_cert),
        str(endpoints.client_key),
    )
    assert not any(name.startswith("KAFKA_SASL") for name in env)
    with pytest.raises(StackError, match="CN=worker"):
        endpoints.env_for("client", mtls=True)


def test_principals_without_redis_or_mlflow_users_get_kafka_only(
    endpoints: SecureEndpoints,
) -> None:
    for principal in ("client", "nobody"):
        env = endpoints.env_for(principal, mechanism="SCRAM-SHA-256")
        assert {name.split("_")[0] for name in env} == {"KAFKA"}
        assert env["KAFKA_SASL_USERNAME"] == principal
        assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-256"
    assert endpoints.env_for("admin")["MLFLOW_TRACKING_USERNAME"] == "admin"
    with pytest.raises(StackError, match="no principal 'root'"):
        endpoints.env_for("root")


def test_export_lines_quote_for_the_shell(endpoints: SecureEndpoints) -> None:
    lines = endpoints.export_lines("worker").splitlines()
    assert len(lines) == len(endpoints.env_for("worker"))
    assert all(line.startswith("export ") for line in lines)


def test_secrets_stay_out_of_reprs(endpoints: SecureEndpoints, stack: SecureStack) -> None:
    text = repr(endpoints) + repr(Credentials.load(stack.credentials_file))
    for passwords in (endpoints.kafka_passwords, endpoints.redis_passwords):
        for password in passwords.values():
            assert password.get_secret_value() not in text


def test_client_configs(endpoints: SecureEndpoints) -> None:
    config = endpoints.kafka_config("client", "PLAIN")
    assert config["bootstrap_servers"] == endpoints.kafka_bootstrap
    assert (config["sasl_mechanism"], config["sasl_plain_username"]) == ("PLAIN", "client")
    mtls = endpoints.kafka_mtls_config()
    assert (mtls["bootstrap_servers"], mtls["security_protocol"]) == (
        endpoints.kafka_mtls_bootstrap,
        "SSL",
    )
    assert endpoints.redis_tls() == {"ssl_ca_certs": str(endpoints.ca_file)}


def test_the_stack_grants_what_kafka_acls_lists(stack: SecureStack) -> None:
    from devstack.kafka_acls import client_acls, worker_acls

    assert stack.kafka_acls() == {
        "User:worker": worker_acls(stack.settings, "prefixed"),
        "User:client": client_acls(stack.settings),
        "User:nobody": [],
    }


def test_stopping_or_inspecting_never_makes_new_credentials(stack: SecureStack) -> None:
    stack.endpoints()
    data = stack.home / "kafka" / "data"
    data.mkdir(parents=True)
    stack.credentials_file.unlink()
    assert not stack.exists()
    assert [s.ready for s in stack.down()] == [False, False, False]
    assert data.exists() and not stack.credentials_file.exists()

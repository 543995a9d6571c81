"""The basic-auth configuration of the MLflow server (the server itself: test_secure_stack)."""

from __future__ import annotations

import base64
import configparser
from pathlib import Path

from pydantic import SecretStr

from devstack.mlflow_server import MlflowAuth, MlflowGrant, MlflowServer, basic_auth_header


def _auth() -> MlflowAuth:
    return MlflowAuth(
        admin_password=SecretStr("admin-password-1"),
        secret_key=SecretStr("k" * 32),
        users={"worker": SecretStr("worker-password-1")},
        grants=(MlflowGrant(username="worker", resource_id="soccer_clf", permission="EDIT"),),
    )


def test_config_ini_is_what_the_auth_app_reads(tmp_path: Path) -> None:
    parser = configparser.ConfigParser()
    parser.read_string(_auth().config_ini(tmp_path))
    section = parser["mlflow"]
    assert section["default_permission"] == "READ"
    assert section["database_uri"] == f"sqlite:///{tmp_path / 'basic_auth.db'}"
    assert (section["admin_username"], section["admin_password"]) == ("admin", "admin-password-1")
    assert section["authorization_function"] == (
        "mlflow.server.auth:authenticate_request_basic_auth"
    )


def test_environment_names_the_config_and_the_key(tmp_path: Path) -> None:
    server = MlflowServer(tmp_path, 5999, auth=_auth())
    env = server._auth_environment()
    config = Path(env["MLFLOW_AUTH_CONFIG_PATH"])
    assert config.parent == tmp_path.resolve()
    assert config.stat().st_mode & 0o077 == 0, "the file holds the admin password"
    assert env["MLFLOW_FLASK_SERVER_SECRET_KEY"] == "k" * 32


def test_no_auth_by_default(tmp_path: Path) -> None:
    assert MlflowServer(tmp_path, 5999)._auth_environment() == {}


def test_grant_body_is_the_rest_api_s(tmp_path: Path) -> None:
    grant = _auth().grants[0]
    assert grant.model_dump() == {
        "username": "worker",
        "resource_type": "registered_model",
        "resource_id": "soccer_clf",
        "permission": "EDIT",
    }


def test_basic_auth_header() -> None:
    header = basic_auth_header("worker", "p:w")
    assert base64.b64decode(header.removeprefix("Basic ")) == b"worker:p:w"
    assert _auth().credentials("admin") == ("admin", "admin-password-1")
    assert _auth().credentials("worker") == ("worker", "worker-password-1")

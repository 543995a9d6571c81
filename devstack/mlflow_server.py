"""A real ``mlflow server`` (the tracking server and model registry) on loopback.

For the tests and benchmarks that need more than the default SQLite registry: MLflow's
registry webhooks come only from a tracking server, and production talks to one over HTTP.
Its SQLite store and artifacts live under ``home``. Webhooks may be delivered to loopback
(MLflow refuses private addresses and plain http unless told otherwise): this is a local
development server, never a deployment.

Open by default. With an :class:`MlflowAuth` it runs MLflow's ``basic-auth`` app: every
request but ``/health`` needs a user's credentials (clients send them from
``MLFLOW_TRACKING_USERNAME`` and ``MLFLOW_TRACKING_PASSWORD``), the auth database lives
under ``home``, and the users and grants of the :class:`MlflowAuth` are made at start-up.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr

from devstack.errors import StackError
from devstack.supervisor import Supervised, free_port, require_free_port

LOCAL_WEBHOOKS = {
    "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
    # The server caches each event's webhook list; a test creates its webhook just before
    # it moves an alias, so the cache must not hide the new webhook for a minute.
    "MLFLOW_WEBHOOK_CACHE_TTL": "1",
}
START_TIMEOUT_SECONDS = 90.0
# The basic-auth app's REST paths (mlflow/server/auth/routes.py, MLflow 3.17).
CREATE_USER = "/api/2.0/mlflow/users/create"
GRANT_USER_PERMISSION = "/api/3.0/mlflow/users/permissions/grant"
AUTHORIZATION_FUNCTION = "mlflow.server.auth:authenticate_request_basic_auth"

Permission = Literal["READ", "USE", "EDIT", "MANAGE"]


class MlflowGrant(BaseModel):
    """``permission`` on one resource for one user, e.g. EDIT on a registered model."""

    model_config = ConfigDict(frozen=True)

    username: str
    resource_type: Literal["registered_model", "experiment"] = "registered_model"
    resource_id: str
    permission: Permission


class MlflowAuth(BaseModel):
    """The basic-auth app's configuration: its admin, other users and their grants."""

    model_config = ConfigDict(frozen=True)

    admin_username: str = "admin"
    admin_password: SecretStr
    secret_key: SecretStr
    """Flask's key for the auth app's CSRF tokens (``MLFLOW_FLASK_SERVER_SECRET_KEY``)."""
    users: dict[str, SecretStr] = {}
    grants: tuple[MlflowGrant, ...] = ()
    default_permission: Literal["READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS"] = "READ"
    """What an authenticated user may do where no grant says otherwise (MLflow's default,
    READ: the worker reads any model; changes need a grant)."""

    def config_ini(self, home: Path) -> str:
        """The ``MLFLOW_AUTH_CONFIG_PATH`` file (it holds the admin password: mode 600)."""
        return "\n".join(
            [
                "[mlflow]",
                f"default_permission = {self.default_permission}",
                f"database_uri = sqlite:///{home / 'basic_auth.db'}",
                f"admin_username = {self.admin_username}",
                f"admin_password = {self.admin_password.get_secret_value()}",
                f"authorization_function = {AUTHORIZATION_FUNCTION}",
                # Users get default_permission in the one (default) workspace.
                "grant_default_workspace_access = true",
                # Each request's password check is a deliberately slow hash (seconds on a
                # busy 2-core machine); remember a good one for a minute. Only successes
                # are cached: a wrong password is always checked, and refused.
                "auth_cache_ttl_seconds = 60",
                "",
            ]
        )

    def credentials(self, username: str) -> tuple[str, str]:
        if username == self.admin_username:
            return username, self.admin_password.get_secret_value()
        return username, self.users[username].get_secret_value()


def basic_auth_header(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return f"Basic {token}"


class MlflowServer:
    """One ``mlflow server`` process with its store under ``home``."""

    def __init__(
        self,
        home: Path,
        port: int | None = None,
        auth: MlflowAuth | None = None,
        *,
        detached: bool = False,
        port_hint: str = "choose another port",
    ) -> None:
        """``detached``: a server of the local stack, outliving its starter and found
        again by ``home/mlflow-server.pid``; else a child of this process (tests)."""
        self.home = home.resolve()
        self.port = port or free_port()
        self.auth = auth
        self.port_hint = port_hint
        self.process = (
            Supervised.server("mlflow-server", self.home)
            if detached
            else Supervised("mlflow-server", self.home / "mlflow-server.log")
        )

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _auth_environment(self) -> dict[str, str]:
        if self.auth is None:
            return {}
        config = self.home / "basic_auth.ini"
        config.unlink(missing_ok=True)
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.auth.config_ini(self.home))
        return {
            "MLFLOW_AUTH_CONFIG_PATH": str(config),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": self.auth.secret_key.get_secret_value(),
        }

    def pid(self) -> int | None:
        return self.process.pid()

    def start_once(self) -> bool:
        """:meth:`start` unless it runs already; False when it did."""
        if self.pid() is not None:
            return False
        self.start()
        return True

    def start(self) -> MlflowServer:
        """Start it and wait until ``/health`` answers (and, with auth, make the users)."""
        require_free_port("127.0.0.1", self.port, self.port_hint)
        self.home.mkdir(parents=True, exist_ok=True)
        app = ["--app-name", "basic-auth"] if self.auth is not None else []
        self.process.start(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                *app,
                "--backend-store-uri",
                f"sqlite:///{self.home / 'mlflow.db'}",
                "--artifacts-destination",
                str(self.home / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                # One process: a local server for one test or benchmark, on 2 cores.
                "--workers",
                "1",
            ],
            env={**LOCAL_WEBHOOKS, **self._auth_environment()},
            cwd=self.home,
        )
        self.process.wait_until(self.ready, START_TIMEOUT_SECONDS, "GET /health")
        if self.auth is not None:
            try:
                self._create_users(self.auth)
            except BaseException:
                self.stop()
                raise
        return self

    def _create_users(self, auth: MlflowAuth) -> None:
        """Each user and grant; ones made by an earlier start are left as they are."""
        for username, password in auth.users.items():
            self.admin_request(
                CREATE_USER, {"username": username, "password": password.get_secret_value()}
            )
        for grant in auth.grants:
            self.admin_request(GRANT_USER_PERMISSION, grant.model_dump())

    def admin_request(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` as the admin; an "already exists" answer counts as done."""
        assert self.auth is not None
        request = urllib.request.Request(
            f"{self.uri}{path}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": basic_auth_header(
                    *self.auth.credentials(self.auth.admin_username)
                ),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            if "RESOURCE_ALREADY_EXISTS" in detail:
                return {}
            raise StackError(f"mlflow {path} refused ({exc.code}): {detail[:200]}") from None

    def stop(self) -> bool:
        return self.process.stop(timeout=15)

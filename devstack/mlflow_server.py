"""A real ``mlflow server`` (the tracking server and model registry) on loopback.

For the tests and benchmarks that need more than the default SQLite registry: MLflow's
registry webhooks come only from a tracking server, and production talks to one over HTTP.
Its SQLite store and artifacts live under ``home``. Webhooks may be delivered to loopback
(MLflow refuses private addresses and plain http unless told otherwise): this is a local
development server, never a deployment.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

from devstack.supervisor import Supervised, free_port

LOCAL_WEBHOOKS = {
    "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
    # The server caches each event's webhook list; a test creates its webhook just before
    # it moves an alias, so the cache must not hide the new webhook for a minute.
    "MLFLOW_WEBHOOK_CACHE_TTL": "1",
}
START_TIMEOUT_SECONDS = 90.0


class MlflowServer:
    """One ``mlflow server`` process with its store under ``home``."""

    def __init__(self, home: Path, port: int | None = None) -> None:
        self.home = home.resolve()
        self.port = port or free_port()
        self.process = Supervised("mlflow-server", self.home / "mlflow-server.log")

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def start(self) -> MlflowServer:
        """Start it and wait until ``/health`` answers."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.process.start(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
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
            env=LOCAL_WEBHOOKS,
            cwd=self.home,
        )
        self.process.wait_until(self.ready, START_TIMEOUT_SECONDS, "GET /health")
        return self

    def stop(self) -> None:
        self.process.stop(timeout=15)

"""MLflow registry webhooks through a real ``mlflow server`` process: a signed
``model_version_alias.created`` delivery swaps the model at once; a forged one is refused.

The worker polls the alias only every 10 minutes here, so a swap within seconds can only
come from the webhook.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.entities.webhook import WebhookAction, WebhookEntity, WebhookEvent

from devstack.mlflow_server import MlflowServer
from devstack.worker import WorkerProcess, http_get
from models import registry
from streams.settings import Settings
from tests.harness import collect, eventually, produce
from tests.integration.conftest import TrainedRegistry
from tests.integration.test_pipeline_e2e import by_request, request

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
SECRET = "hook-s3cret"
NAME = "soccer_clf"


@pytest.fixture(scope="module")
def server_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainedRegistry]:
    """A champion trained into a registry served by ``mlflow server``."""
    root = tmp_path_factory.mktemp("mlflow-server")
    server = MlflowServer(root / "server").start()
    try:
        trained = TrainedRegistry(
            tracking_uri=server.uri, state_dir=root / "state", features_dir=root / "features"
        )
        trained.train(seed=0)
        yield trained
    finally:
        server.stop()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    req = urllib.request.Request(url, method="POST", data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:  # loopback test URL
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def signature_headers(body: bytes, secret: str) -> dict[str, str]:
    delivery, stamp = "forged-1", str(int(time.time()))
    digest = hmac.new(secret.encode(), f"{delivery}.{stamp}.".encode() + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-MLflow-Delivery-Id": delivery,
        "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": f"v1,{base64.b64encode(digest.digest()).decode()}",
    }


def serving(worker: WorkerProcess) -> str:
    return str(json.loads(http_get(f"{worker.base_url}/model")[1])["version"])


async def test_a_signed_webhook_swaps_at_once_and_a_forged_one_is_refused(
    worker_settings: Settings, server_registry: TrainedRegistry, tmp_path: Path
) -> None:
    uri = server_registry.tracking_uri
    settings = Settings(
        **worker_settings.model_dump()
        | {
            "mlflow_tracking_uri": uri,
            "features_dir": server_registry.features_dir,
            "mlflow_webhook_secret": SECRET,
            "model_poll_seconds": 600.0,
        }
    )
    worker = WorkerProcess(settings, tmp_path / "worker.log").launch()
    try:
        worker.wait_ready()
        assert serving(worker) == "1"
        hook_url = f"{worker.base_url}/hooks/mlflow"
        registry.client(uri).create_webhook(
            name=f"worker-{settings.consumer_group}",
            url=hook_url,
            events=[WebhookEvent(WebhookEntity.MODEL_VERSION_ALIAS, WebhookAction.CREATED)],
            secret=SECRET,
        )
        second = registry.copy_version(NAME, "1", uri)

        # Forged: the right shape, signed with another secret, or not signed at all.
        body = json.dumps(
            {
                "entity": "model_version_alias",
                "action": "created",
                "data": {"name": NAME, "alias": "champion", "version": second},
            }
        ).encode()
        for headers in (signature_headers(body, "guess"), {"Content-Type": "application/json"}):
            status, answer = post(hook_url, body, headers)
            assert status == 401, answer
        assert serving(worker) == "1"

        moved = time.monotonic()
        registry.set_alias(NAME, "champion", second, uri)
        await eventually(
            lambda: serving(worker) == second, "the webhook's swap", timeout=30, every=0.1
        )
        swap_seconds = time.monotonic() - moved
        assert swap_seconds < 15, f"swapped only after {swap_seconds:.1f}s"

        match_id = server_registry.match_ids()[-1]
        await produce(settings, settings.match_requests_topic, [request(match_id, "after-hook")])
        answers = await collect(
            settings,
            settings.predictions_topic,
            lambda rs: "after-hook" in by_request(rs),
            timeout=30,
        )
        assert by_request(answers)["after-hook"]["model"]["version"] == second
    finally:
        worker.stop()

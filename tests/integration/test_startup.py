"""Start-up without a model (not ready, says why, retries, and serves once one appears),
and without a broker (waited for, but bounded)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from devstack.supervisor import free_port
from devstack.worker import WorkerProcess, http_get
from models.registry import client as registry_client
from streams.settings import Settings
from tests.conftest import RunningStack
from tests.harness import collect, produce, run_command
from tests.integration.conftest import TrainedRegistry
from tests.integration.test_pipeline_e2e import request

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


async def test_worker_without_a_champion_waits_then_serves(
    stack: RunningStack, isolated_settings: Settings, tmp_path: Path
) -> None:
    registry = TrainedRegistry(
        tracking_uri=f"sqlite:///{tmp_path / 'empty.db'}",
        state_dir=tmp_path / "registry-state",
        features_dir=tmp_path / "features",
    )
    settings = Settings(
        **{
            **isolated_settings.model_dump(),
            "mlflow_tracking_uri": registry.tracking_uri,
            "features_dir": registry.features_dir,
            "web_port": free_port(),
            "model_poll_seconds": 1.0,
            "features_poll_seconds": 1.0,
        }
    )
    # An empty registry that exists, as after `mlflow server` first starts: creating the
    # SQLite schema while the worker polls it would be a race of the test's own making.
    registry_client(registry.tracking_uri).search_registered_models()
    worker = WorkerProcess(settings, tmp_path / "worker.log").launch()
    try:
        deadline = time.monotonic() + 60
        status, body = 0, b""
        while time.monotonic() < deadline:
            try:
                status, body = http_get(f"{worker.base_url}/ready", timeout=3)
                break
            except OSError:
                await asyncio.sleep(0.5)
        assert status == 503, f"expected 503 before any model exists, got {status} {body!r}"
        reasons = " ".join(json.loads(body)["reasons"])
        assert "model: no soccer_clf@champion" in reasons and "features:" in reasons

        registry.train(seed=3)
        worker.wait_ready(timeout=60)
        match_id = registry.match_ids()[-1]
        await produce(settings, settings.match_requests_topic, [request(match_id, "first")])
        records = await collect(
            settings,
            settings.predictions_topic,
            lambda rs: any(r["request_id"] == "first" for r in rs),
            timeout=30,
        )
        assert any(r["request_id"] == "first" for r in records)
    finally:
        worker.stop()


def test_a_worker_with_no_broker_exits_after_the_startup_timeout(tmp_path: Path) -> None:
    """An absent broker is waited for (it may be starting), but not for ever: one line and
    a non-zero exit after KAFKA_STARTUP_TIMEOUT_SECONDS, for the orchestrator to retry."""
    settings = Settings(
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        kafka_startup_timeout_seconds=3,
        state_dir=tmp_path,
    )
    began = time.monotonic()
    result = run_command(settings, "worker")
    took = time.monotonic() - began
    assert result.returncode == 2, result.stderr[-2000:]
    [line] = result.stderr.strip().splitlines()
    assert "no answer from" in line and "within 3s" in line, line
    assert 3 <= took < 30

"""Faults survived, against real servers: Redis down, registry unreachable, broker restart.

Each test runs its own server for the fault (a separate redis-server or Kafka broker on
free ports with state under tmp, a copy of the registry), so stopping it never disturbs
the session stack other tests use. The SIGKILL fault is in ``test_worker_restart.py``,
the malformed-input fuzz in ``test_faults_fuzz.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from devstack.local_stack import private_broker
from devstack.redis_server import RedisServer
from devstack.supervisor import free_port
from devstack.worker import WorkerProcess, http_get
from streams.settings import Settings
from tests.conftest import RunningStack
from tests.harness import answers_to, collect, eventually, produce
from tests.integration.conftest import TrainedRegistry
from tests.integration.test_pipeline_e2e import livescore, request

pytestmark = [pytest.mark.integration]
REDIS_DOWN_SECONDS = 10.0


def _with(settings: Settings, **changes: Any) -> Settings:
    # A fresh object, not model_copy: cached derived values must follow the new fields.
    return Settings(**{**settings.model_dump(), **changes})


def _json(worker: WorkerProcess, path: str) -> tuple[int, dict[str, Any]]:
    status, body = http_get(f"{worker.base_url}{path}")
    return status, json.loads(body)


@pytest.mark.timeout(150)
async def test_redis_down_for_10s_predictions_flow_and_redis_catches_up(
    stack: RunningStack,
    worker_settings: Settings,
    trained_registry: TrainedRegistry,
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis_server = RedisServer(tmp_path / "own-redis", "127.0.0.1", port, url)
    redis_server.start()
    settings = _with(worker_settings, redis_url=url)
    worker = WorkerProcess(settings, tmp_path / "worker.log").launch()
    client = aioredis.Redis.from_url(url)
    matches = trained_registry.match_ids()[-5:]

    async def stored_seq(match_id: str) -> int | None:
        raw = await client.get(settings.redis_key(match_id))
        return json.loads(raw)["seq"] if raw else None

    async def redis_holds(seq: int) -> bool:
        try:
            return all([await stored_seq(m) == seq for m in matches])
        except (OSError, aioredis.RedisError):
            return False

    try:
        worker.wait_ready()
        await produce(
            settings, settings.livescores_topic, [livescore(m, 0, 1, 0, 0) for m in matches]
        )
        await eventually(lambda: redis_holds(0), "Redis had the first predictions")

        redis_server.stop()
        down_at = time.monotonic()
        for seq in (1, 2, 3):
            await produce(
                settings,
                settings.livescores_topic,
                [livescore(m, seq, 10 * seq, seq, 0) for m in matches],
            )
            await asyncio.sleep(1.5)
        records = await collect(
            settings, settings.predictions_topic, lambda rs: len(rs) >= 4 * len(matches), 30
        )
        assert {(r["match_id"], r["seq"]) for r in records} >= {
            (m, s) for m in matches for s in range(4)
        }, "predictions kept flowing to the topic while Redis was down"
        status, ready = _json(worker, "/ready")
        assert status == 503 and any(r.startswith("redis") for r in ready["reasons"]), ready
        assert worker.pid() is not None

        await asyncio.sleep(max(0.0, REDIS_DOWN_SECONDS - (time.monotonic() - down_at)))
        redis_server.start()  # empty: the cache has no persistence, as in production
        await eventually(lambda: redis_holds(3), "Redis caught up with the newest seq")
        await eventually(lambda: _json(worker, "/ready")[0] == 200, "ready again")
    finally:
        worker.stop()
        await client.aclose()
        redis_server.stop()


@pytest.mark.timeout(150)
async def test_registry_unreachable_current_model_keeps_serving(
    stack: RunningStack,
    worker_settings: Settings,
    trained_registry: TrainedRegistry,
    tmp_path: Path,
) -> None:
    # A private copy of the registry database, so breaking it leaves the module's intact.
    original = Path(trained_registry.tracking_uri.removeprefix("sqlite:///"))
    registry_db = tmp_path / "registry" / "mlflow.db"
    registry_db.parent.mkdir()
    shutil.copyfile(original, registry_db)
    settings = _with(worker_settings, mlflow_tracking_uri=f"sqlite:///{registry_db}")
    worker = WorkerProcess(settings, tmp_path / "worker.log").launch()
    match_id = trained_registry.match_ids()[-1]
    try:
        worker.wait_ready()
        serving = _json(worker, "/model")[1]["version"]

        # Garbage in place of the database file: MLflow's pooled connections hold the
        # file open, so moving it away would go unnoticed; this breaks every query.
        registry_db.write_bytes(b"not a database " * 1024)
        await eventually(lambda: _json(worker, "/model")[1]["last_error"], "a model error")
        model = _json(worker, "/model")[1]
        assert model["version"] == serving and "resolve" in model["last_error"], model

        await produce(
            settings,
            settings.match_requests_topic,
            [request(match_id, f"r{i}") for i in range(20)],
        )
        answers = await collect(settings, settings.predictions_topic, lambda rs: len(rs) >= 20, 30)
        assert len(answers) >= 20
        assert {a["model"]["version"] for a in answers} == {serving}
        assert _json(worker, "/ready")[0] == 200, "a serving model keeps the worker ready"

        shutil.copyfile(original, registry_db)
        await eventually(lambda: _json(worker, "/model")[1]["last_error"] is None, "no model error")
    finally:
        worker.stop()


async def _produce_steadily(
    settings: Settings,
    match_ids: list[str],
    stop: asyncio.Event,
    acked: list[str],
    per_tick: int = 20,
) -> None:
    """Requests at ~200/s until ``stop``; ``acked`` gets the ids the broker acknowledged.

    Sends that fail while the broker is down are simply not counted: only acknowledged
    requests are owed an answer.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", request_timeout_ms=60000
    )
    await producer.start()
    sent = 0
    try:
        while not stop.is_set():
            batch = []
            for _ in range(per_tick):
                key, value = request(match_ids[sent % len(match_ids)], f"s{sent}")
                batch.append((f"s{sent}", await producer.send(
                    settings.match_requests_topic, value, key=key
                )))  # fmt: skip
                sent += 1
            for request_id, future in batch:
                with contextlib.suppress(KafkaError):
                    await future
                    acked.append(request_id)
            await asyncio.sleep(0.1)
    finally:
        with contextlib.suppress(KafkaError):
            await producer.stop()


@pytest.mark.timeout(240)
async def test_broker_restart_worker_reconnects_and_loses_nothing(
    worker_settings: Settings, trained_registry: TrainedRegistry, tmp_path: Path
) -> None:
    broker = private_broker(tmp_path / "own-kafka")
    # The broker's start and stop probe it with asyncio.run of their own: off this loop.
    await asyncio.to_thread(broker.start)
    settings = _with(worker_settings, kafka_bootstrap_servers=broker.bootstrap)
    worker = WorkerProcess(settings, tmp_path / "worker.log").launch()
    matches = trained_registry.match_ids()[-100:]
    acked: list[str] = []
    stop = asyncio.Event()
    producing: asyncio.Task[None] | None = None
    try:
        worker.wait_ready()
        producing = asyncio.create_task(_produce_steadily(settings, matches, stop, acked))
        seen = await collect(settings, settings.predictions_topic, lambda rs: len(rs) >= 300, 60)
        assert len(seen) >= 300, "the worker was answering before the restart"

        # Mid-stream: requests keep coming while the broker goes down and comes back.
        await asyncio.to_thread(broker.stop)
        await asyncio.to_thread(broker.start)
        await asyncio.sleep(5)
        stop.set()
        await producing
        expected = set(acked)
        answered = await answers_to(settings, expected, timeout=120)
        missing = expected - answered.keys()
        assert not missing, f"{len(missing)} acknowledged requests lost, e.g. {sorted(missing)[:5]}"
        duplicates = sum(n - 1 for n in answered.values())
        print(f"\nbroker restart: {len(expected)} requests, {duplicates} duplicate answers")
        assert len(expected) > 1000 and worker.pid() is not None
        await eventually(lambda: _json(worker, "/ready")[0] == 200, "ready again")
    finally:
        stop.set()
        if producing is not None:
            await asyncio.gather(producing, return_exceptions=True)
        worker.stop()
        await asyncio.to_thread(broker.stop)

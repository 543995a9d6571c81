"""A worker SIGKILLed mid-stream and restarted: every request is answered (at least once)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from devstack.worker import WorkerProcess
from streams.settings import Settings
from tests.harness import answers_to, collect, committed_offsets, eventually, produce
from tests.integration.conftest import TrainedRegistry
from tests.integration.test_pipeline_e2e import livescore, request

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
TOTAL = 3000


async def test_sigkill_mid_stream_then_restart_answers_everything(
    worker: WorkerProcess,
    worker_settings: Settings,
    trained_registry: TrainedRegistry,
    tmp_path: Path,
) -> None:
    match_ids = trained_registry.match_ids()[-200:]
    requests = [request(match_ids[i % len(match_ids)], f"k{i}") for i in range(TOTAL)]
    producing = asyncio.create_task(
        produce(worker_settings, worker_settings.match_requests_topic, requests)
    )
    seen = await collect(
        worker_settings, worker_settings.predictions_topic, lambda rs: len(rs) >= 300, timeout=60
    )
    assert len(seen) >= 300, "the worker was answering before the kill"
    worker.kill()
    await producing

    restarted = WorkerProcess(worker_settings, tmp_path / "worker-restarted.log").launch()
    expected = {f"k{i}" for i in range(TOTAL)}
    try:
        restarted.wait_ready()
        answered = await answers_to(worker_settings, expected, timeout=120)
    finally:
        restarted.stop()
    missing = expected - answered.keys()
    assert not missing, f"{len(missing)} requests never answered, e.g. {sorted(missing)[:5]}"
    duplicates = sum(n - 1 for n in answered.values())
    # At least once: a batch in flight at the kill may be answered twice, never more.
    print(f"\nsigkill restart: {TOTAL} requests, {duplicates} duplicate answers")
    assert max(answered.values()) <= 2


async def test_restarted_worker_recovers_match_state_from_the_changelog(
    worker: WorkerProcess,
    worker_settings: Settings,
    trained_registry: TrainedRegistry,
    tmp_path: Path,
) -> None:
    match_id = trained_registry.match_ids()[-7]
    states = [(0, 0, 0), (30, 1, 0), (75, 2, 1)]
    events = [livescore(match_id, seq, *state) for seq, state in enumerate(states)]
    await produce(worker_settings, worker_settings.livescores_topic, events)
    seen = await collect(
        worker_settings, worker_settings.predictions_topic, lambda rs: len(rs) >= 3, timeout=30
    )
    assert len(seen) == 3

    async def all_committed() -> bool:
        committed = await committed_offsets(
            worker_settings, worker_settings.consumer_group, worker_settings.livescores_topic
        )
        return sum(committed.values()) == len(events)

    # The precondition of the test: the group committed past every event, so the restarted
    # worker cannot rebuild the state by reading them again, only from the changelog.
    await eventually(all_committed, "the group's commit of the three livescores", timeout=30)
    worker.kill()

    restarted = WorkerProcess(worker_settings, tmp_path / "worker-restarted.log").launch()
    try:
        restarted.wait_ready()
        await produce(
            worker_settings, worker_settings.match_requests_topic, [request(match_id, "after")]
        )
        records = await collect(
            worker_settings,
            worker_settings.predictions_topic,
            lambda rs: any(r["request_id"] == "after" for r in rs),
            timeout=60,
        )
    finally:
        restarted.stop()
    # The three events were not read again: each was predicted once, before the kill.
    assert sorted(r["seq"] for r in records if r["trigger"] == "livescore") == [0, 1, 2]
    answer = next(r for r in records if r["request_id"] == "after")
    assert (answer["seq"], answer["minute"], answer["home_goals"], answer["away_goals"]) == (
        2,
        75,
        2,
        1,
    ), "the request is answered for the state recovered from the changelog"

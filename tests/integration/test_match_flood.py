"""A flood of new match ids against a worker with a small MATCH_MEMORY_LIMIT (issue 25).

Real Kafka, Redis and registry. 6,000 requests, each for a match id never seen before,
while one match keeps getting livescores: every request is answered, each table comes
down to the limit, the forgotten matches are tombstones on the changelogs, and the match
followed live is still remembered (its state, and its timeline). The bench
``python -m bench.flood`` does the same at 200,000 ids and measures the memory.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from devstack.worker import WorkerProcess, http_get
from streams.settings import Settings
from streams.table_names import MATCH_STATE_TABLE, OUTPUTS_TABLE
from tests.harness import answers_to, collect, eventually
from tests.integration.test_pipeline_e2e import livescore

pytestmark = [pytest.mark.integration]

LIMIT = 1000
FLOOD = 6000
CHUNK = 250
SIDES = ("Germany", "France", "Spain", "England", "Brazil", "Argentina", "Japan", "Mexico")
MEMORIES = re.compile(r'^soccer_match_memories\{table="([^"]+)"\} (\S+)$', re.M)


def flood_request(run: str, n: int) -> tuple[bytes, bytes]:
    match_id = f"{run}-flood-{n}"
    body = {
        "request_id": f"{run}-r{n}",
        "match_id": match_id,
        "home_team": SIDES[n % len(SIDES)],
        "away_team": SIDES[(n + 1) % len(SIDES)],
    }
    return match_id.encode(), json.dumps(body).encode()


def memories(worker: WorkerProcess) -> dict[str, float]:
    status, body = http_get(f"{worker.base_url}/metrics")
    assert status == 200
    return {table: float(held) for table, held in MEMORIES.findall(body.decode())}


async def tombstoned(settings: Settings, table: str) -> set[str]:
    """The keys with a tombstone on ``table``'s changelog (read to its end)."""
    consumer = AIOKafkaConsumer(
        f"{settings.consumer_group}-{table}-changelog",
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    keys: set[str] = set()
    try:
        ends = await consumer.end_offsets(list(consumer.assignment()))

        async def behind() -> bool:
            return any([await consumer.position(tp) < end for tp, end in ends.items()])

        while await behind():
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                keys.update(m.key.decode() for m in messages if m.value is None and m.key)
    finally:
        await consumer.stop()
    return keys


@pytest.mark.timeout(120)
async def test_a_flood_of_match_ids_is_answered_and_forgotten_but_a_live_match_is_kept(
    worker_settings: Settings, tmp_path: Path
) -> None:
    settings = Settings(**{**worker_settings.model_dump(), "match_memory_limit": LIMIT})
    run = settings.consumer_group
    live = f"{run}-live"
    teams = {"home_team": "Germany", "away_team": "Scotland"}
    worker = WorkerProcess(settings, tmp_path / "worker.log").launch()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    try:
        await asyncio.to_thread(worker.wait_ready)
        await producer.start()
        # The flood, a chunk at a time, and a livescore of the live match with each chunk.
        for seq, first in enumerate(range(0, FLOOD, CHUNK)):
            minute = min(seq, 90)
            key, value = livescore(live, seq, minute, 0, seq % 2, **teams)
            await producer.send(settings.livescores_topic, value, key=key)
            for n in range(first, first + CHUNK):
                key, value = flood_request(run, n)
                await producer.send(settings.match_requests_topic, value, key=key)
            await producer.flush()
            await asyncio.sleep(0.1)
        last_seq = FLOOD // CHUNK - 1

        answered = await answers_to(settings, {f"{run}-r{n}" for n in range(FLOOD)}, 60)
        assert len(answered) == FLOOD, f"answered {len(answered)} of {FLOOD}"

        await asyncio.to_thread(worker.wait_read_models)

        def within_limit() -> dict[str, float]:
            held = memories(worker)
            assert held[MATCH_STATE_TABLE] <= LIMIT and held[OUTPUTS_TABLE] <= LIMIT, held
            return held

        await eventually(within_limit, "every table held to the limit", timeout=20)

        # The live match: its state (a request is answered for its newest livescore)...
        asked = json.dumps({"request_id": f"{run}-after", "match_id": live}).encode()
        await producer.send_and_wait(settings.match_requests_topic, asked, key=live.encode())
        after = await collect(
            settings,
            settings.predictions_topic,
            lambda rs: any(r["request_id"] == f"{run}-after" for r in rs),
            timeout=30,
        )
        (answer,) = [r for r in after if r["request_id"] == f"{run}-after"]
        assert (answer["seq"], answer["status"]) == (last_seq, "live")
        # ...and its timeline, every livescore's prediction.
        status, body = http_get(f"{worker.base_url}/matches/{live}.json")
        assert status == 200, body
        points = json.loads(body)["points"]
        assert len([p for p in points if p["trigger"] == "livescore"]) == last_seq + 1

        # The forgotten matches left the changelogs: the oldest flood ids are tombstones.
        oldest = {f"{run}-flood-{n}" for n in range(FLOOD - 2 * LIMIT)}
        state_gone = await tombstoned(settings, MATCH_STATE_TABLE)
        assert oldest <= state_gone and live not in state_gone
        outputs_gone = {json.loads(k)[0] for k in await tombstoned(settings, OUTPUTS_TABLE)}
        assert oldest <= outputs_gone and live not in outputs_gone
    finally:
        await producer.stop()
        worker.stop()

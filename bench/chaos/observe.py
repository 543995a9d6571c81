"""What a finished run left behind, read the way its users read it.

The champion's outputs and the dead letters from their topics; each match's latest value
from Redis; the team ratings from ``GET /ratings`` of every running worker; the live
scores from the compacted scores topic (the last record of each key) and the board's
counts from ``GET /model``; each match's timeline from ``GET /matches/{id}.json``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from pydantic import BaseModel

from devstack.worker import WorkerProcess, http_fetch
from schemas import DeadLetter, MatchScore, Prediction
from streams.connect.kafka import kafka_options
from streams.settings import Settings

#: Timeline points as the ledger compares them: (at, trigger, seq, version, status, minute).
PointKey = tuple[str, str, int | None, str, str, int]


class Observations(BaseModel):
    """One run's outcome."""

    predictions: list[Prediction]
    dead_letters: list[DeadLetter]
    #: match id -> the prediction Redis holds (None: no key).
    latest: dict[str, Prediction | None]
    #: worker -> team -> feature -> value.
    ratings: dict[str, dict[str, dict[str, float]]]
    #: ``match|version|phase`` -> the score the topic ends with.
    scores: dict[str, MatchScore]
    #: ``version|phase`` -> n on the board of each worker.
    board: dict[str, dict[str, int]]
    #: match id -> its timeline's points.
    timelines: dict[str, list[PointKey]]


async def read_topic(settings: Settings, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of ``topic`` from the beginning to its end now."""
    consumer = AIOKafkaConsumer(**kafka_options(settings), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        # A metadata request of its own, as streams.faust_glue.topic_replica does: the
        # consumer's cache may lack the topic.
        cluster = await consumer._client.fetch_all_metadata()
        found = cluster.partitions_for_topic(topic) or set()
        if not found:
            raise RuntimeError(f"topic {topic} does not exist")
        partitions = [TopicPartition(topic, p) for p in sorted(found)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        out: list[tuple[bytes | None, bytes | None]] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(*partitions, timeout_ms=1000)
            for records in batch.values():
                out.extend((r.key, r.value) for r in records)
        return out
    finally:
        await consumer.stop()


def last_by_key(records: Iterable[tuple[bytes | None, bytes | None]]) -> dict[bytes, bytes]:
    """A compacted topic as its consumers see it: the last value of each key, tombstones
    removing it."""
    out: dict[bytes, bytes] = {}
    for key, value in records:
        if key is None:
            continue
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


async def _json(worker: WorkerProcess, path: str) -> Any:
    status, body = await http_fetch(f"{worker.base_url}{path}", timeout=10)
    if status != 200:
        raise RuntimeError(f"GET {path} on {worker.base_url} answered {status}: {body[:200]!r}")
    return json.loads(body)


def point_key(point: dict[str, Any]) -> PointKey:
    return (
        dt.datetime.fromisoformat(point["at"]).isoformat(),
        point["trigger"],
        point["seq"],
        point["model_version"],
        point["status"],
        point["minute"],
    )


async def _timelines(
    workers: list[WorkerProcess], match_ids: list[str]
) -> dict[str, list[PointKey]]:
    out: dict[str, list[PointKey]] = {}
    for i, match_id in enumerate(match_ids):
        # Any worker answers: one that does not own the match asks the owner.
        view = await _json(workers[i % len(workers)], f"/matches/{match_id}.json")
        out[match_id] = [point_key(p) for p in view["points"]]
    return out


async def observe(
    settings: Settings, workers: list[WorkerProcess], match_ids: list[str]
) -> Observations:
    """Everything the ledger compares, once the run has settled."""
    predictions = [
        Prediction.model_validate_json(v)
        for _, v in await read_topic(settings, settings.predictions_topic)
        if v is not None
    ]
    dead = [
        DeadLetter.model_validate_json(v)
        for _, v in await read_topic(settings, settings.predictions_dlq_topic)
        if v is not None
    ]
    scores = {
        key.decode(): MatchScore.model_validate_json(value)
        for key, value in last_by_key(await read_topic(settings, settings.scores_topic)).items()
    }
    client = aioredis.Redis.from_url(settings.redis_url.get_secret_value())
    try:
        raw = await client.mget([settings.redis_key(m) for m in match_ids])
    finally:
        await client.aclose()
    latest = {
        m: Prediction.model_validate_json(value) if value is not None else None
        for m, value in zip(match_ids, raw, strict=True)
    }
    ratings = {w.base_url: (await _json(w, "/ratings"))["teams"] for w in workers}
    board = {}
    for worker in workers:
        report = (await _json(worker, "/model"))["evaluation"]
        board[worker.base_url] = {
            f"{v['version']}|{p['phase']}": p["n"] for v in report["versions"] for p in v["phases"]
        }
    return Observations(
        predictions=predictions,
        dead_letters=dead,
        latest=latest,
        ratings=ratings,
        scores=scores,
        board=board,
        timelines=await _timelines(workers, match_ids),
    )


def gather(settings: Settings, workers: list[WorkerProcess], match_ids: list[str]) -> Observations:
    return asyncio.run(observe(settings, workers, match_ids))

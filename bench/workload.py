"""What every benchmarked design shares: topics per run, the events, and how rates are read.

Every design consumes the same livescore payloads (``bench.pipeline_latency.event``) from
its own fresh topics on the same broker and answers each with a prediction-sized record.
Throughput is always read the same way: from the first to the last output's timestamp
(stamped when the design produced it), so start-up time is outside the window.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Sequence

import numpy as np
from aiokafka import AIOKafkaConsumer

from bench.pipeline_latency import event
from devstack.supervisor import free_port
from devstack.topics import run_names
from schemas import Livescore, ModelRef, Prediction
from streams.connect.kafka import kafka_options
from streams.settings import Settings


def fresh_topics(base: Settings, name: str) -> Settings:
    """``base`` with topics, consumer group, Redis prefix and web port of its own."""
    run = f"bench-{name}-{uuid.uuid4().hex[:6]}"
    return Settings(
        **{
            **base.model_dump(),
            **run_names(run),
            "web_port": free_port(),
        }
    )


def sample_prediction(value: bytes) -> bytes:
    """A real prediction record for the event ``value``: the size every design produces."""
    return (
        Prediction.for_livescore(
            Livescore.model_validate_json(value),
            [0.5, 0.3, 0.2],
            model=ModelRef(name="soccer_clf", version="1", alias="champion", run_id="0" * 32),
            features_version="0" * 16,
        )
        .model_dump_json()
        .encode()
    )


def payload_sizes() -> tuple[int, int]:
    """(input, output) bytes of a typical benchmark event and its prediction."""
    _, value = event(7, 12)
    return len(value), len(sample_prediction(value))


def drain_rate(stamps: Sequence[float]) -> float:
    """Outputs per second between the first and the last output timestamp."""
    if len(stamps) < 2:
        return 0.0
    ordered = sorted(stamps)
    span = ordered[-1] - ordered[0]
    return (len(ordered) - 1) / span if span > 0 else 0.0


def percentiles_ms(latencies_s: Sequence[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    if not latencies_s:
        return float("nan"), float("nan")
    values = np.asarray(latencies_s) * 1000
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def event_ts_of(body: bytes) -> float:
    """The ``event_ts`` of a prediction JSON, in seconds since the epoch."""
    return dt.datetime.fromisoformat(json.loads(body)["event_ts"]).timestamp()


async def read_stamps(
    settings: Settings, topic: str, expected: int, timeout: float
) -> list[tuple[float, bytes]]:
    """(Kafka timestamp s, value) of the records on ``topic`` until ``expected`` arrived."""
    consumer = AIOKafkaConsumer(
        topic,
        **kafka_options(settings),
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 << 20,
    )
    await consumer.start()
    out: list[tuple[float, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10000)
            for messages in batch.values():
                out.extend((m.timestamp / 1000, m.value) for m in messages)
    finally:
        await consumer.stop()
    return out

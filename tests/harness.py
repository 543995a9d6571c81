"""Helpers for the end-to-end tests: a producer and a collector of JSON records, and a
``python -m streams`` command run as a user runs it.

The worker process itself and the HTTP helper are dev tooling shared with the benchmarks
and the demo: :mod:`devstack.worker`.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from devstack.worker import REPO, settings_env
from streams.settings import Settings


def run_command(
    settings: Settings, *argv: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m streams *argv`` in a child with ``settings`` as its environment."""
    return subprocess.run(
        [sys.executable, "-m", "streams", *argv],
        cwd=REPO,
        env={**os.environ, **settings_env(settings)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


async def produce(
    settings: Settings, topic: str, records: Iterable[tuple[bytes | None, bytes]]
) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    count = 0
    try:
        for key, value in records:
            await producer.send(topic, value, key=key)
            count += 1
        await producer.flush()
    finally:
        await producer.stop()
    return count


async def collect(
    settings: Settings,
    topic: str,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 60.0,
) -> list[dict[str, Any]]:
    """Read ``topic`` from the beginning until ``until(records)`` holds (JSON values)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout):
            while not until(records):
                batch = await consumer.getmany(timeout_ms=300)
                for messages in batch.values():
                    records.extend(json.loads(m.value) for m in messages)
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return records


async def answers_to(
    settings: Settings, request_ids: set[str], timeout: float
) -> collections.Counter[str]:
    """How many predictions each request got, reading until every id in ``request_ids`` is
    answered (or ``timeout``); ids never answered are missing from the counter."""
    records = await collect(
        settings,
        settings.predictions_topic,
        lambda rs: {r["request_id"] for r in rs} >= request_ids,
        timeout=timeout,
    )
    return collections.Counter(r["request_id"] for r in records if r["request_id"])

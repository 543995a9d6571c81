"""Helpers for the end-to-end tests: a producer and a collector of JSON records, a
``python -m streams`` command run as a user runs it, the one way to wait for something
(:func:`eventually`), and a consumer group's committed offsets.

The worker process itself and the HTTP helper are dev tooling shared with the benchmarks
and the demo: :mod:`devstack.worker`.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

from devstack.worker import REPO, settings_env
from streams.settings import Settings

T = TypeVar("T")


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


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    what: str,
    timeout: float = 30.0,
    every: float = 0.5,
) -> T:
    """Call ``check`` (a function or a coroutine function) every ``every`` seconds until it
    returns something true, and return that; an ``AssertionError`` raised by ``check``
    counts as not yet. After ``timeout`` seconds: ``AssertionError`` naming ``what`` and the
    last answer, or the check's own last ``AssertionError``.

    A plain function runs on the event loop, so it should be quick (an HTTP GET to a
    worker on this machine is).
    """

    async def attempt() -> T:
        answer = check()
        return await answer if inspect.isawaitable(answer) else answer

    polling = AsyncRetrying(
        retry=retry_if_result(lambda answer: not answer) | retry_if_exception_type(AssertionError),
        stop=stop_after_delay(timeout),
        wait=wait_fixed(every),
        reraise=True,  # the check's own AssertionError, which says more than ours
    )
    try:
        return await polling(attempt)
    except RetryError as gave_up:
        last = gave_up.last_attempt.result()
        raise AssertionError(f"{what}: not within {timeout:g} s (last: {last!r})") from None


async def committed_offsets(settings: Settings, group: str, topic: str) -> dict[int, int]:
    """Partition -> offset that ``group`` committed on ``topic`` (partitions it never
    committed are left out)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        partitions = [
            TopicPartition(topic, p["partition"])
            for described in await admin.describe_topics([topic])
            for p in described["partitions"]
        ]
        offsets = await admin.list_consumer_group_offsets(group, partitions=partitions)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

"""The Kafka side of the commands: topics, a producer, and a reader of new outputs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from streams.cli import CommandError
from streams.faust_glue.topic_admin import ensure_topics
from streams.logs import configure_logging
from streams.settings import Settings

CONNECT_TIMEOUT_SECONDS = 5.0


def quiet_logging() -> None:
    """Commands talk on stdout/stderr themselves and report a failure in one line: only
    warnings and worse of their own, and the libraries' logs (aiokafka logs every refused
    connection) only when critical. Set once for the command's process."""
    configure_logging("WARNING", library_level="CRITICAL")


async def ensure_service_topics(settings: Settings) -> None:
    """Create the service's topics (as the worker would) so nothing is auto-created with
    the broker's default partition count; fail in one line when Kafka does not answer."""
    try:
        await ensure_topics(settings, give_up_after=CONNECT_TIMEOUT_SECONDS)
    except (OSError, TimeoutError, KafkaError) as exc:
        raise CommandError(
            f"kafka: no answer from {settings.kafka_bootstrap_servers} within "
            f"{CONNECT_TIMEOUT_SECONDS:.0f}s (start it with: python -m streams stack up)"
        ) from exc


@asynccontextmanager
async def producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=5
    )
    try:
        await client.start()
    except KafkaError as exc:
        await client.stop()
        raise CommandError(f"kafka: {settings.kafka_bootstrap_servers}: {exc}") from None
    try:
        yield client
    finally:
        await client.stop()


@asynccontextmanager
async def new_records(
    settings: Settings, client: AIOKafkaProducer, topics: list[str]
) -> AsyncIterator[AsyncIterator[tuple[str, dict[str, Any]]]]:
    """Records written to ``topics`` from now on, as (topic, JSON value).

    Positions are pinned at the log end before this yields, so an answer produced right
    after (to a request sent inside the block) cannot be missed, and nothing older is read.
    """
    partitions = [
        TopicPartition(topic, p) for topic in topics for p in await client.partitions_for(topic)
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)  # resolves the end offset now, not at first fetch

        async def records() -> AsyncIterator[tuple[str, dict[str, Any]]]:
            while True:
                batch = await consumer.getmany(timeout_ms=200)
                for tp, messages in batch.items():
                    for message in messages:
                        try:
                            yield tp.topic, json.loads(message.value)
                        except (TypeError, ValueError):
                            continue  # not ours to judge: other producers share the topic

        yield records()
    finally:
        await consumer.stop()

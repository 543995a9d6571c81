"""The Kafka side of the commands: topics, clients, and a reader of new outputs.

Every Kafka client of the commands is made here, so that connection settings apply to all.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.structs import TopicPartition

from streams.cli import CommandError
from streams.connect.kafka import kafka_options
from streams.connect.listener import listener_mismatch, no_answer_line
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
        raise await unreachable(settings, no_answer(settings)) from exc


def no_answer(settings: Settings) -> CommandError:
    """The one-line error of a broker that does not answer."""
    return CommandError(
        no_answer_line(
            settings, CONNECT_TIMEOUT_SECONDS, "start it with: python -m streams stack up"
        )
    )


async def unreachable(settings: Settings, otherwise: CommandError) -> CommandError:
    """The one-line error of a client that could not connect: a listener of another
    protocol when the probe the worker's start-up check asks too finds one (it closes our
    TLS handshake, or refuses SASL), else ``otherwise``."""
    mismatch = await listener_mismatch(settings)
    return otherwise if mismatch is None else CommandError(mismatch)


def connection_options(settings: Settings) -> dict[str, Any]:
    """What every client made here needs to reach the brokers (security included)."""
    return kafka_options(settings)


@asynccontextmanager
async def producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(**connection_options(settings), acks="all", linger_ms=5)
    try:
        await client.start()
    except KafkaError as exc:
        await client.stop()
        failed = CommandError(f"kafka: {settings.kafka_bootstrap_servers}: {exc}")
        raise await unreachable(settings, failed) from None
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
        **connection_options(settings), group_id=None, enable_auto_commit=False
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


@asynccontextmanager
async def reader(settings: Settings, **options: Any) -> AsyncIterator[AIOKafkaConsumer]:
    """A started consumer in no group, with nothing assigned and nothing committed (the
    caller assigns and seeks); ``no_answer`` when the brokers do not answer in time."""
    client = AIOKafkaConsumer(
        **connection_options(settings), group_id=None, enable_auto_commit=False, **options
    )
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
            await client.start()
    except (OSError, TimeoutError, KafkaError) as exc:
        await client.stop()
        raise await unreachable(settings, no_answer(settings)) from exc
    try:
        yield client
    finally:
        await client.stop()


@asynccontextmanager
async def admin(settings: Settings) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client; ``no_answer`` when the brokers do not answer in time."""
    client = AIOKafkaAdminClient(**connection_options(settings), request_timeout_ms=5000)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
            await client.start()
    except (OSError, TimeoutError, KafkaError) as exc:
        await client.close()
        raise await unreachable(settings, no_answer(settings)) from exc
    try:
        yield client
    finally:
        await client.close()


async def ensure_topic(
    settings: Settings, name: str, partitions: int, configs: dict[str, str]
) -> bool:
    """Create topic ``name`` unless it exists (its settings are then left as they are);
    True when this call created it."""
    async with admin(settings) as client:
        # Listing, not describing: a metadata request for a missing topic may auto-create it.
        if name in set(await client.list_topics()):
            return False
        try:
            response = await client.create_topics(
                [NewTopic(name, partitions, 1, topic_configs=configs)]
            )
        except TopicAlreadyExistsError:
            return False  # someone else created it meanwhile
        except KafkaError as exc:
            raise CommandError(f"kafka: cannot create topic {name}: {exc}") from None
        # The broker answers per topic, and aiokafka returns those errors instead of raising.
        for _, code, *message in response.topic_errors:
            if code == TopicAlreadyExistsError.errno:
                return False
            if code:
                reason = f"{for_code(code).__name__} {' '.join(map(str, message))}".strip()
                raise CommandError(f"kafka: cannot create topic {name}: {reason}")
        return True

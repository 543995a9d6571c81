"""The real broker and Redis answer: produce, consume, write, read."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def test_produce_and_consume_through_the_real_broker(isolated_settings: Settings) -> None:
    topic = isolated_settings.livescores_topic
    admin = AIOKafkaAdminClient(bootstrap_servers=isolated_settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=isolated_settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        sent = {f"m{i}".encode(): f'{{"n": {i}}}'.encode() for i in range(20)}
        for key, value in sent.items():
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=isolated_settings.kafka_bootstrap_servers,
        group_id=isolated_settings.consumer_group,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    received: dict[bytes, bytes] = {}
    partitions_seen: set[int] = set()
    try:
        async with asyncio.timeout(30):
            while len(received) < len(sent):
                batch = await consumer.getmany(timeout_ms=500)
                for tp, records in batch.items():
                    partitions_seen.add(tp.partition)
                    received.update({r.key: r.value for r in records})
    finally:
        await consumer.stop()

    assert received == sent
    assert len(partitions_seen) > 1, "keys should spread over the topic's partitions"


async def test_redis_write_and_read(isolated_settings: Settings) -> None:
    client = aioredis.from_url(isolated_settings.redis_url.get_secret_value())
    key = isolated_settings.redis_key("smoke-match")
    try:
        await client.set(key, b'{"seq": 1}', ex=60)
        assert await client.get(key) == b'{"seq": 1}'
        assert 0 < await client.ttl(key) <= 60
    finally:
        await client.delete(key)
        await client.aclose()

"""Readiness probes that talk the real protocols: a Kafka metadata request, a Redis PING."""

from __future__ import annotations

import asyncio
import logging

import redis
from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError


async def kafka_answers_metadata(bootstrap_servers: str, within: float = 3.0) -> bool:
    """True when a broker at ``bootstrap_servers`` answers a metadata request."""
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(within * 1000)
    )
    # aiokafka logs every refused connection at ERROR; while polling a starting broker
    # those are expected, so keep them out of the operator's terminal.
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        await asyncio.wait_for(client.bootstrap(), within)
        return bool(client.cluster.brokers())
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        quiet.setLevel(level)
        await client.close()


def kafka_ready(bootstrap_servers: str, timeout: float = 3.0) -> bool:
    """Blocking form of :func:`kafka_answers_metadata` for the CLI and fixtures."""
    return asyncio.run(kafka_answers_metadata(bootstrap_servers, timeout))


def redis_ready(url: str, timeout: float = 2.0) -> bool:
    """True when Redis at ``url`` answers PING."""
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()

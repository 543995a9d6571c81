"""Blocking readiness probes that talk the real protocols: a Kafka metadata request, a Redis
PING. For the dev stack and test fixtures; the worker's own /ready uses its long-lived
clients (``streams.ops.readiness``)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import redis
from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError


async def kafka_answers_metadata(
    bootstrap_servers: str, within: float = 3.0, security: Mapping[str, Any] | None = None
) -> bool:
    """True when a broker at ``bootstrap_servers`` answers a metadata request.

    ``security`` holds aiokafka's connection keywords (``security_protocol``,
    ``ssl_context``, ``sasl_*``) for a secured listener; a failed handshake or login is a
    no, like a refused connection.

    aiokafka logs each refused connection; a process that polls a starting broker sets the
    ``aiokafka`` logger's level once for itself (the CLI does), this function never does.
    """
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers,
        request_timeout_ms=int(within * 1000),
        **(security or {}),
    )
    try:
        await asyncio.wait_for(client.bootstrap(), within)
        return bool(client.cluster.brokers())
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await client.close()


def kafka_ready(
    bootstrap_servers: str, timeout: float = 3.0, security: Mapping[str, Any] | None = None
) -> bool:
    """Blocking form of :func:`kafka_answers_metadata` for the CLI and fixtures."""
    return asyncio.run(kafka_answers_metadata(bootstrap_servers, timeout, security))


def redis_ready(url: str, timeout: float = 2.0, **tls: Any) -> bool:
    """True when Redis at ``url`` answers PING (``tls``: redis-py's ``ssl_*`` keywords)."""
    client = redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, **tls
    )
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()

"""Create the service's topics with the configured partition count before the worker starts.

Inputs, outputs and the table changelog must share one partition count so that a match's
events, its state and its outputs live on the same partition number.
"""

from __future__ import annotations

import asyncio

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from streams.settings import Settings

log = structlog.get_logger(__name__)


def service_topics(settings: Settings) -> list[str]:
    return [
        settings.livescores_topic,
        settings.match_requests_topic,
        settings.predictions_topic,
        settings.predictions_dlq_topic,
    ]


async def ensure_topics(settings: Settings, retry_seconds: float = 5.0) -> list[str]:
    """Create missing topics; waits (saying so) while the broker is unreachable.

    Returns the names it created. Existing topics are left as they are, with a warning
    when their partition count differs from TOPIC_PARTITIONS.
    """
    while True:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=5000
        )
        try:
            await admin.start()
            try:
                return await _create_missing(admin, settings)
            finally:
                await admin.close()
        except (TimeoutError, KafkaConnectionError, OSError) as exc:
            log.warning(
                "kafka_unreachable",
                bootstrap=settings.kafka_bootstrap_servers,
                retry_in=retry_seconds,
                error=str(exc) or type(exc).__name__,
            )
            await asyncio.sleep(retry_seconds)


async def _create_missing(admin: AIOKafkaAdminClient, settings: Settings) -> list[str]:
    wanted = service_topics(settings)
    # Describe only topics that exist: a metadata request for a missing topic may
    # auto-create it with the broker's default partition count.
    present = [name for name in wanted if name in set(await admin.list_topics())]
    existing = await admin.describe_topics(present) if present else []
    counts = {t["topic"]: len(t["partitions"]) for t in existing if t.get("error_code", 0) == 0}
    for name, count in counts.items():
        if count != settings.topic_partitions:
            log.warning(
                "topic_partition_mismatch",
                topic=name,
                partitions=count,
                expected=settings.topic_partitions,
            )
    missing = [name for name in wanted if name not in counts]
    if not missing:
        return []
    try:
        await admin.create_topics(
            [NewTopic(name, settings.topic_partitions, 1) for name in missing]
        )
    except TopicAlreadyExistsError:
        pass  # another worker created them first
    except KafkaError as exc:
        if "TopicAlreadyExists" not in repr(exc):
            raise
    log.info("topics_created", topics=missing, partitions=settings.topic_partitions)
    return missing


async def delete_topics_named(bootstrap: str, part: str) -> int:
    """Delete every topic whose name contains ``part`` (inputs, outputs, changelogs).

    For tests and benchmarks that make topics per run: thousands of leftover partitions
    slow a single local broker down, and with it every later run.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if part in t]
        if doomed:
            await admin.delete_topics(doomed)
        return len(doomed)
    finally:
        await admin.close()

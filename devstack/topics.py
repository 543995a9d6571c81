"""Topic clean-up for tests and benchmarks that make topics per run."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient

from streams.connect.kafka import kafka_options
from streams.settings import Settings


async def delete_topics_named(settings: Settings, part: str) -> int:
    """Delete every topic whose name contains ``part`` (inputs, outputs, changelogs).

    Thousands of leftover partitions slow a single local broker down, and with it every
    later run.
    """
    admin = AIOKafkaAdminClient(**kafka_options(settings))
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if part in t]
        if doomed:
            await admin.delete_topics(doomed)
        return len(doomed)
    finally:
        await admin.close()


def run_names(run: str) -> dict[str, str]:
    """Settings fields that give one run (a test, a benchmark design, a replay) topics, a
    consumer group and a Redis prefix of its own. Every per-run topic is named here once,
    so a new topic cannot be forgotten by one of the callers; the service's internal
    topics follow from the consumer group."""
    return {
        "livescores_topic": f"{run}-livescores",
        "match_requests_topic": f"{run}-match-requests",
        "predictions_topic": f"{run}-predictions",
        "predictions_dlq_topic": f"{run}-predictions-dlq",
        "predictions_shadow_topic": f"{run}-predictions-shadow",
        "consumer_group": run,
        "redis_key_prefix": f"{run}:",
    }

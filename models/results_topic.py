"""Reading the results topic once, for retraining: every partition from its beginning to
the end offsets it had when the read started, then stop.

Through the commands' Kafka clients (``streams.cli.kafka_io``: the settings' addresses and
security, a bounded connect, one line when no broker answers) and their whole-topic read
(``streams.cli.dlq_kafka.read_topic``: a read that stops making progress fails instead of
hanging). A failure is a :class:`streams.cli.CommandError` whose ``str()`` is one line.
"""

from __future__ import annotations

import asyncio
import logging

from streams.cli import CommandError
from streams.settings import Settings


async def read_result_values(settings: Settings) -> list[bytes | None]:
    """The value of every record of ``settings.results_topic`` up to its end now."""
    # Imported here: they pull in aiokafka and Faust, which the other commands do not need.
    from aiokafka.errors import KafkaError

    from streams.cli.dlq_kafka import read_topic, topic_partitions
    from streams.cli.kafka_io import admin, reader
    from streams.connect.kafka import KafkaConfigError

    # aiokafka logs every refused connection; the command reports the failure in one line.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    topic = settings.results_topic
    try:
        async with admin(settings) as client:
            partitions = (await topic_partitions(client)).get(topic, 0)
        if partitions == 0:
            # A wrong CONSUMER_GROUP would otherwise retrain on the base data alone, silently.
            raise CommandError(
                f"kafka: no topic {topic} at {settings.kafka_bootstrap_servers} "
                "(the worker creates it; is CONSUMER_GROUP the worker's?)"
            )
        async with reader(settings) as consumer:
            return [record.value for record in await read_topic(consumer, topic, partitions)]
    except KafkaConfigError as exc:
        raise CommandError(f"kafka: {exc}") from None
    except KafkaError as exc:  # refused after connecting: an ACL, a broker going away
        raise CommandError(
            f"kafka: reading {topic} at {settings.kafka_bootstrap_servers}: {exc}"
        ) from None


def read_results(settings: Settings) -> list[bytes | None]:
    """:func:`read_result_values` for synchronous callers."""
    return asyncio.run(read_result_values(settings))

"""A whole topic, read by every worker from its beginning and kept up to date.

For the service's own compacted topics whose every record each worker needs (the results
that update the team features, the scores of the models): a plain consumer outside the
consumer group, so each worker reads every partition, a restarted worker rebuilds from
Kafka, and there is no GlobalTable (see docs/design.md#stream-updated-team-features).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import mode
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from prometheus_client import Gauge

from streams.backoff import retrying

FETCH_TIMEOUT_MS = 500
#: Broker wait for a fetch with nothing new: a record should reach every worker fast.
FETCH_MAX_WAIT_MS = 50


class TopicReplica(mode.Service):
    """Hands every record of ``topic`` to ``on_record``, in order per partition."""

    def __init__(
        self,
        kafka: Mapping[str, Any],
        topic: str,
        on_record: Callable[[bytes | None], None],
        behind_gauge: Gauge | None = None,
    ) -> None:
        super().__init__()
        self.kafka = kafka  # aiokafka keywords: streams.connect.kafka.kafka_options
        self.topic = topic
        self.on_record = on_record
        self.behind_gauge = behind_gauge
        #: Set once everything that was in the topic at start-up has been read.
        self.caught_up = asyncio.Event()
        self.behind: int | None = None
        self.last_error: str | None = None
        self._consumer: AIOKafkaConsumer | None = None

    @mode.Service.task
    async def _read(self) -> None:
        consumer = await self._connect()
        partitions = await self._partitions(consumer)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        target = await consumer.end_offsets(partitions)
        while not self.should_stop:
            batch = await consumer.getmany(*partitions, timeout_ms=FETCH_TIMEOUT_MS)
            for records in batch.values():
                for record in records:
                    self.on_record(record.value)
            positions = {tp: await consumer.position(tp) for tp in partitions}
            self.behind = sum(
                max(0, max(consumer.highwater(tp) or 0, target[tp]) - positions[tp])
                for tp in partitions
            )
            if self.behind_gauge is not None:
                self.behind_gauge.set(self.behind)
            if all(positions[tp] >= target[tp] for tp in partitions):
                self.caught_up.set()

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        """Every partition of the topic, from fresh metadata (the client's cache may not
        hold the topic yet, and missing a partition would miss its records for good)."""
        async for attempt in retrying(
            retry_on=lambda error: isinstance(error, LookupError) and not self.should_stop,
            initial=0.1,
            maximum=1.0,
            sleep=self.sleep,
        ):
            with attempt:
                # A metadata request of its own (aiokafka 0.14's client, as in
                # topic_admin): partitions_for_topic reads a cache that may lack the topic.
                cluster = await consumer._client.fetch_all_metadata()
                found = cluster.partitions_for_topic(self.topic)
                if not found:
                    raise LookupError(f"no metadata for {self.topic} yet")
                return [TopicPartition(self.topic, p) for p in sorted(found)]
        raise AssertionError("unreachable: retrying either returns or raises")

    async def _connect(self) -> AIOKafkaConsumer:
        async for attempt in retrying(
            retry_on=lambda error: isinstance(error, Exception) and not self.should_stop,
            initial=0.5,
            maximum=5.0,
            sleep=self.sleep,
        ):
            with attempt:
                consumer = AIOKafkaConsumer(
                    **self.kafka,
                    group_id=None,
                    enable_auto_commit=False,
                    fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
                )
                try:
                    await consumer.start()
                except BaseException as exc:
                    self.last_error = f"kafka: {self.topic} unreachable: {exc}"
                    await consumer.stop()
                    raise
                self._consumer = consumer
                self.last_error = None
                return consumer
        raise AssertionError("unreachable: retrying either returns or raises")

    async def on_stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

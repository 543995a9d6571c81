"""Consumer lag of this worker's input partitions: log end minus the group's committed offset.

The same number ``kafka-consumer-groups --describe`` shows as LAG: records written to a
partition that the group has not yet processed and committed. Committed offsets come from
the broker (an admin OffsetFetch), not from the fetch position, because the Faust consumer
prefetches: a full buffer of unprocessed records would otherwise read as no lag at all.
Each worker reports the partitions assigned to it, so a sum over workers is the group's lag.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from typing import Any, NamedTuple

import faust
from aiokafka.structs import TopicPartition
from faust.exceptions import ConsumerNotStarted

from streams.faust_glue.kafka_admin import KafkaAdmin
from streams.metrics import Metrics
from streams.polling import PollingService

LAG_POLL_SECONDS = 2.0


class PartitionLag(NamedTuple):
    """Lag of one partition: records between the committed offset and the log end."""

    topic: str
    partition: int
    end_offset: int
    committed: int | None
    lag: int


def partition_lags(
    end_offsets: Mapping[Any, int],
    committed: Mapping[Any, int | None],
    earliest: Mapping[Any, int],
) -> list[PartitionLag]:
    """Lag per partition, sorted. Keys are (topic, partition) pairs of any tuple type.

    A partition with no committed offset is read from its earliest offset (the app's
    ``auto_offset_reset``), so everything from there on is lag.
    """
    out = []
    for tp, end in end_offsets.items():
        topic, partition = tp
        held = committed.get(tp)
        position = held if held is not None and held >= 0 else earliest.get(tp, 0)
        out.append(
            PartitionLag(
                topic=topic,
                partition=partition,
                end_offset=end,
                committed=held if held is not None and held >= 0 else None,
                lag=max(0, end - position),
            )
        )
    return sorted(out, key=lambda p: (p.topic, p.partition))


class ConsumerLag(PollingService):
    """Measures lag every few seconds for the status page and /metrics."""

    def __init__(
        self,
        app: faust.App,
        topics: Collection[str],
        admin: KafkaAdmin,
        metrics: Metrics,
        interval: float = LAG_POLL_SECONDS,
    ) -> None:
        super().__init__(interval)
        self.app = app
        self.topics = frozenset(topics)
        self.admin = admin
        self.metrics = metrics
        self.partitions: list[PartitionLag] = []
        self.measured_at: dt.datetime | None = None
        self.last_error: str | None = None
        #: Called with every measurement (the stall watchdog).
        self.on_measure: list[Callable[[list[PartitionLag]], None]] = []

    async def poll(self) -> None:
        try:
            await self.measure()
        except ConsumerNotStarted:
            return  # the worker is still starting: nothing assigned, nothing to say yet
        except Exception as exc:  # broker down, rebalance in progress, consumer not started
            self.last_error = f"{type(exc).__name__}: {exc}"
            await self.admin.reset()  # reconnect from scratch next time
            raise

    async def measure(self) -> list[PartitionLag]:
        """One measurement of the partitions assigned to this worker now."""
        consumer = self.app.consumer
        assigned = sorted(tp for tp in consumer.assignment() if tp.topic in self.topics)
        lags: list[PartitionLag] = []
        if assigned:
            ends = await consumer.highwaters(*assigned)
            committed = await self._committed(assigned)
            missing = [tp for tp in assigned if committed.get(tp) is None]
            earliest = await consumer.earliest_offsets(*missing) if missing else {}
            lags = partition_lags(ends, committed, earliest)
        self._publish(lags)
        return lags

    async def _committed(self, assigned: list[Any]) -> dict[Any, int | None]:
        admin = await self.admin.client()
        offsets = await admin.list_consumer_group_offsets(
            self.app.conf.id,  # the Faust app id is its consumer group
            partitions=[TopicPartition(tp.topic, tp.partition) for tp in assigned],
        )
        found = {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
        return {tp: found.get((tp.topic, tp.partition)) for tp in assigned}

    def _publish(self, lags: list[PartitionLag]) -> None:
        gauge = self.metrics.consumer_lag
        now_labels = {(p.topic, str(p.partition)) for p in lags}
        for old in {(p.topic, str(p.partition)) for p in self.partitions} - now_labels:
            # A partition that moved to another worker is that worker's to report.
            gauge.remove(*old)
        for p in lags:
            gauge.labels(topic=p.topic, partition=str(p.partition)).set(p.lag)
        self.partitions = lags
        self.measured_at = dt.datetime.now(dt.UTC)
        self.last_error = None
        for callback in self.on_measure:
            callback(lags)

    @property
    def total(self) -> int:
        return sum(p.lag for p in self.partitions)

"""Consumer lag of this worker's input partitions: log end minus the group's committed offset.

The same number ``kafka-consumer-groups --describe`` shows as LAG: records written to a
partition that the group has not yet processed and committed. Committed offsets come from
the broker (an admin OffsetFetch), not from the fetch position, because the Faust consumer
prefetches: a full buffer of unprocessed records would otherwise read as no lag at all.
Each worker reports the partitions assigned to it, so a sum over workers is the group's lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

import faust
import structlog
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from streams.metrics import Metrics

log = structlog.get_logger(__name__)


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


class ConsumerLag:
    """Measures lag every few seconds (an app task) for the status page and /metrics."""

    def __init__(
        self, app: faust.App, topics: Collection[str], bootstrap_servers: str, metrics: Metrics
    ) -> None:
        self.app = app
        self.topics = frozenset(topics)
        self.bootstrap_servers = bootstrap_servers
        self.metrics = metrics
        self.partitions: list[PartitionLag] = []
        self.measured_at: dt.datetime | None = None
        self.last_error: str | None = None
        self._admin: AIOKafkaAdminClient | None = None

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
        if self._admin is None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.bootstrap_servers, request_timeout_ms=5000
            )
            await admin.start()
            self._admin = admin
        offsets = await self._admin.list_consumer_group_offsets(
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

    async def run(self, interval: float) -> None:
        """Background task: measure forever; a failure is kept as ``last_error`` and logged once."""
        try:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.measure()
                except Exception as exc:  # broker down, rebalance in progress, not started
                    message = f"{type(exc).__name__}: {exc}"
                    if message != self.last_error:
                        log.warning("consumer_lag_unavailable", error=message[:300])
                    self.last_error = message
                    await self._close_admin()  # reconnect from scratch next time
        finally:
            await self._close_admin()

    async def _close_admin(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            # Closing a broken connection may fail too; there is nothing left to keep.
            with contextlib.suppress(Exception):
                await admin.close()

    @property
    def total(self) -> int:
        return sum(p.lag for p in self.partitions)

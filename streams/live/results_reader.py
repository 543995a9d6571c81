"""Every worker reads the whole results topic and folds it into its team ratings.

The topic (``{CONSUMER_GROUP}-results``, compacted, one partition) is read from the
beginning by a plain consumer outside the consumer group, so a restarted or added worker
rebuilds the same ratings, and each worker sees a result a moment after any worker wrote
it. See :mod:`streams.live.team_ratings` for why the fold is the same on every worker.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import mode
import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from pydantic import ValidationError

from schemas import MatchResult
from streams.backoff import retrying
from streams.live.team_ratings import TeamRatings
from streams.metrics import Metrics

log = structlog.get_logger(__name__)
FETCH_TIMEOUT_MS = 500
#: Broker wait for a fetch with nothing new: a result should reach every worker fast.
FETCH_MAX_WAIT_MS = 50
REJECTED: frozenset[str] = frozenset({"duplicate", "stale", "in_snapshot", "no_state"})


class ResultsReader(mode.Service):
    """Reads ``topic`` from its beginning for as long as the worker runs."""

    def __init__(
        self, bootstrap_servers: str, topic: str, ratings: TeamRatings, metrics: Metrics
    ) -> None:
        super().__init__()
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.ratings = ratings
        self.metrics = metrics
        #: Set once everything that was in the topic at start-up has been read.
        self.caught_up = asyncio.Event()
        self.behind: int | None = None
        self.last_error: str | None = None
        self._consumer: AIOKafkaConsumer | None = None

    @mode.Service.task
    async def _read(self) -> None:
        consumer = await self._connect()
        partitions = [
            TopicPartition(self.topic, p)
            for p in sorted(consumer.partitions_for_topic(self.topic) or {0})
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        target = await consumer.end_offsets(partitions)
        while not self.should_stop:
            batch = await consumer.getmany(*partitions, timeout_ms=FETCH_TIMEOUT_MS)
            for records in batch.values():
                for record in records:
                    self._take(record.value)
            positions = {tp: await consumer.position(tp) for tp in partitions}
            self.behind = sum(
                max(0, max(consumer.highwater(tp) or 0, target[tp]) - positions[tp])
                for tp in partitions
            )
            self.metrics.results_behind.set(self.behind)
            if all(positions[tp] >= target[tp] for tp in partitions):
                self.caught_up.set()
            newest = self.ratings.newest
            if newest is not None:
                age = (dt.datetime.now(dt.UTC) - newest.finished_at).total_seconds()
                self.metrics.newest_result_age.set(max(0.0, age))

    async def _connect(self) -> AIOKafkaConsumer:
        def on_retry(state: object) -> None:
            self.last_error = "kafka: results topic unreachable"

        async for attempt in retrying(
            retry_on=lambda error: isinstance(error, Exception) and not self.should_stop,
            initial=0.5,
            maximum=5.0,
            on_retry=on_retry,  # type: ignore[arg-type]
            sleep=self.sleep,
        ):
            with attempt:
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=self.bootstrap_servers,
                    group_id=None,
                    enable_auto_commit=False,
                    fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
                )
                try:
                    await consumer.start()
                except BaseException:
                    await consumer.stop()
                    raise
                self._consumer = consumer
                self.last_error = None
                return consumer
        raise AssertionError("unreachable: retrying either returns or raises")

    def _take(self, value: bytes | None) -> None:
        try:
            result = MatchResult.model_validate_json(value or b"")
        except ValidationError as exc:
            self.metrics.results_rejected.labels(reason="unreadable").inc()
            log.warning("result_unreadable", error=str(exc.errors()[0]["msg"])[:200])
            return
        outcome = self.ratings.offer(result)
        if outcome in {"applied", "corrected", "pending"}:
            self.metrics.results_applied.inc()
        elif outcome in REJECTED:
            self.metrics.results_rejected.labels(reason=outcome).inc()

    async def on_stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

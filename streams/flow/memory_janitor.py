"""Forgetting matches: the match memory stays bounded.

A finished match is kept ``FINISHED_MATCH_MINUTES`` after its last event (a corrected
result is scored again meanwhile), a match that never finished ``MATCH_MEMORY_HOURS``.
Each worker forgets only matches of the partitions it owns, so a standby copy never
deletes what the owner is still writing.
"""

from __future__ import annotations

import datetime as dt

import faust
from aiokafka.partitioner import DefaultPartitioner

from schemas import MatchMemory
from streams.flow.match_state import MatchMemories
from streams.polling import PollingService

SWEEP_SECONDS = 60.0


def is_expired(
    memory: MatchMemory, now: dt.datetime, ttl: dt.timedelta, finished_ttl: dt.timedelta
) -> bool:
    """Whether a match's memory has outlived its use."""
    limit = finished_ttl if memory.finished_at is not None else ttl
    return now - memory.touched_at > limit


def partition_of(match_id: str, partitions: int) -> int:
    """The partition the producer's default partitioner gives the key (the table is
    written with ``use_partitioner``, so this is where the match's memory lives)."""
    return int(DefaultPartitioner()(match_id.encode(), list(range(partitions)), []))


def owned_partitions(app: faust.App, topic: str) -> set[int]:
    """This worker's active partitions of ``topic``; the table may also hold standby
    copies of other workers' partitions."""
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}


class MemoryJanitor(PollingService):
    """Sweeps the match memory of this worker's partitions every minute."""

    def __init__(
        self,
        app: faust.App,
        memories: MatchMemories,
        source_topic: str,
        partitions: int,
        ttl: dt.timedelta,
        finished_ttl: dt.timedelta,
        interval: float = SWEEP_SECONDS,
    ) -> None:
        super().__init__(interval)
        self.app = app
        self.memories = memories
        self.source_topic = source_topic
        self.partitions = partitions
        self.ttl = ttl
        self.finished_ttl = finished_ttl
        self.forgotten = 0

    def owned(self) -> set[int]:
        return owned_partitions(self.app, self.source_topic)

    async def poll(self) -> None:
        owned = self.owned()
        if not owned:
            return
        now = dt.datetime.now(dt.UTC)
        expired = [
            match_id
            for match_id, raw in list(self.memories.items())
            if partition_of(match_id, self.partitions) in owned
            and is_expired(MatchMemory.decode(raw, now), now, self.ttl, self.finished_ttl)
        ]
        for match_id in expired:
            self.memories.delete(match_id)
        self.forgotten += len(expired)
        self.memories.prune()

"""Where a match lives: its partition, and the partitions this worker owns."""

from __future__ import annotations

import faust
from aiokafka.partitioner import DefaultPartitioner

_PARTITIONER = DefaultPartitioner()


def partition_of(match_id: str, partitions: int) -> int:
    """The partition the producer's default partitioner gives the key ``match_id``: where
    the match's events are, and so where every table keyed by it keeps it."""
    return int(_PARTITIONER(match_id.encode(), list(range(partitions)), []))


def owned_partitions(app: faust.App, topic: str) -> set[int]:
    """This worker's active partitions of ``topic``; a table may also hold standby copies
    of other workers' partitions."""
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}

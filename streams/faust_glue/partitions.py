"""Where a match lives: its partition, and the partitions this worker owns."""

from __future__ import annotations

from functools import lru_cache

import faust
from aiokafka.partitioner import DefaultPartitioner

_PARTITIONER = DefaultPartitioner()
#: Matches whose partition is remembered: about a worker's MATCH_MEMORY_LIMIT and more.
#: The hash is pure-Python murmur2 (microseconds), and the memory janitor asks it of every
#: held match each second while a table is over its limit.
PARTITIONS_CACHED = 1 << 16


@lru_cache(maxsize=PARTITIONS_CACHED)
def partition_of(match_id: str, partitions: int) -> int:
    """The partition the producer's default partitioner gives the key ``match_id``: where
    the match's events are, and so where every table keyed by it keeps it."""
    return int(_PARTITIONER(match_id.encode(), list(range(partitions)), []))


def owned_partitions(app: faust.App, topic: str) -> set[int]:
    """This worker's active partitions of ``topic``; a table may also hold standby copies
    of other workers' partitions."""
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}

"""A Faust table whose keys begin with a match id: co-partitioned, and listed per match.

A read model that stores one record per output (a match page's points) keys each by what
identifies the output, a tuple whose first item is the match id: a duplicate output writes
the same key again, and a write never grows with the match's history. Two things Faust
does not do for such keys are added here:

- **The changelog partition is the match's.** Faust hashes the whole key (or takes the
  current event's partition, and a batch has no single current event). The table's
  writer (``streams.faust_glue.table_writer``) sends each key's changelog record to the
  partition of its match id instead, so the worker that owns a match's outputs owns its
  records, as for ``match_to_state`` (``streams.faust_glue.raw_table_keys``); so does
  :class:`MatchKeyedTable` should Faust itself ever write one.
- **Keys are listed per match, in order.** The memory store's dict is a
  :class:`MatchKeyed`, which keeps each match's keys beside the values, sorted as the read
  model orders them (then first written first). Every way Faust changes the store (a
  local write, a changelog record applied in recovery or as a standby, a partition dropped
  after a rebalance) goes through it, so the listing can never disagree with the table,
  and reading a match's keys in order costs the same at its first point and its last.
- **Matches are listed least recently written first.** A match moves to the end of the
  listing when a new key of it is written, so the memory janitor finds the matches written
  longest ago without reading their values (``streams.flow.memory_janitor``).

The keys go to the changelog as JSON arrays; Faust reads them back as tuples.
"""

from __future__ import annotations

import bisect
import itertools
import json
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

import faust

from streams.faust_glue.partitions import partition_of
from streams.faust_glue.table_writer import TableWriter
from streams.sinks.kafka_sender import producer_sender

#: A key of a match-keyed table: the match id first, then what identifies the record.
MatchKey = tuple[Any, ...]


class MatchKeyed(MutableMapping[MatchKey, bytes]):
    """A dict of the table's values that also keeps each match's keys in order: by
    ``order(key)``, then first write first (a rewrite keeps its place). Kept in order as
    keys come and go, so reading a match's keys never sorts them; the matches themselves
    are kept least recently written first (a new key moves its match to the end)."""

    def __init__(self, order: Callable[[MatchKey], int] = lambda key: 0) -> None:
        self._values: dict[MatchKey, bytes] = {}
        self.order = order
        self._writes = itertools.count()
        #: key -> (its order, when it was first written): where it sits in its match's list.
        self._place: dict[MatchKey, tuple[int, int]] = {}
        self._by_match: dict[str, list[tuple[int, int, MatchKey]]] = {}

    def __getitem__(self, key: MatchKey) -> bytes:
        return self._values[key]

    def __setitem__(self, key: MatchKey, value: bytes) -> None:
        if key not in self._values:
            place = (self.order(key), next(self._writes))
            self._place[key] = place
            # The match moves to the end: written last. (A dict keeps insertion order.)
            keys = self._by_match.pop(key[0], None)
            self._by_match[key[0]] = keys = [] if keys is None else keys
            # (order, write) is unique, so the keys themselves are never compared.
            bisect.insort(keys, (*place, key))
        self._values[key] = value

    def __delitem__(self, key: MatchKey) -> None:
        del self._values[key]
        place = self._place.pop(key)
        keys = self._by_match[key[0]]
        del keys[bisect.bisect_left(keys, place)]
        if not keys:
            del self._by_match[key[0]]

    def __iter__(self) -> Iterator[MatchKey]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def clear(self) -> None:
        self._values.clear()
        self._place.clear()
        self._by_match.clear()

    def keys_of(self, match_id: str) -> list[MatchKey]:
        """The keys of one match, in order."""
        return [key for _, _, key in self._by_match.get(match_id, ())]

    def count(self, match_id: str) -> int:
        return len(self._by_match.get(match_id, ()))

    def after(self, key: MatchKey) -> list[MatchKey]:
        """The keys of ``key``'s match that come after it, in order (none for a key not in
        the table): a new output is usually its match's newest, so this is usually one
        bisection, however long the match."""
        place = self._place.get(key)
        if place is None:
            return []
        keys = self._by_match[key[0]]
        return [later for _, _, later in keys[bisect.bisect_left(keys, place) + 1 :]]

    def last_written(self, match_id: str) -> MatchKey | None:
        """The match's key first written last (its newest output, whatever its order)."""
        keys = self._by_match.get(match_id)
        return max(keys, key=lambda entry: entry[1])[2] if keys else None

    def match_ids(self) -> list[str]:
        """Every match that has a key, least recently written first."""
        return list(self._by_match)

    def match_count(self) -> int:
        return len(self._by_match)

    def last_in_order(self, match_id: str) -> MatchKey | None:
        """The match's last key in order (its newest by ``order``), or None."""
        keys = self._by_match.get(match_id)
        return keys[-1][2] if keys else None


class MatchKeyedTable(faust.Table):
    """A table keyed by tuples whose first item is a match id (see the module docs)."""

    def partition_for_key(self, key: Any) -> int | None:
        return partition_of(key[0], self.partitions or self.app.conf.topic_partitions)


def key_bytes(key: MatchKey) -> bytes:
    """A key as its changelog record carries it: the JSON array Faust reads back as a tuple
    (compact, so one key is always the same bytes and compaction keeps its newest)."""
    return json.dumps(list(key), separators=(",", ":")).encode()


def match_keyed_table(
    app: faust.App,
    name: str,
    partitions: int,
    order: Callable[[MatchKey], int],
    topic_configs: Mapping[str, str] | None = None,
) -> tuple[TableWriter[MatchKey], MatchKeyed]:
    """A :class:`MatchKeyedTable` of raw bytes values on ``app``: its writer (whose
    changelog records go to each match's partition) and its store's listing, each match's
    keys in ``order``; ``topic_configs`` go to its changelog topic."""
    table = app.tables.add(
        MatchKeyedTable(
            app,
            name=name,
            default=None,
            beacon=app.tables.beacon,
            key_type=None,  # Faust's JSON for the tuples
            value_type=bytes,
            partitions=partitions,
            extra_topic_configs=topic_configs,
        )
    )
    listing = MatchKeyed(order)
    # The memory store keeps its values in ``.data``; ours lists them per match too.
    table.data.data = listing  # type: ignore[attr-defined]  # memory store internals
    writer: TableWriter[MatchKey] = TableWriter(
        table.data,
        producer_sender(app, table.changelog_topic.get_topic_name()),
        key_bytes,
        lambda key: partition_of(key[0], partitions),
    )
    return writer, listing

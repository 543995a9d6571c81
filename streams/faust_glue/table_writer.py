"""Writing a Faust table the way the flow writes its outputs.

Faust sends a table's changelog records itself: each write queues one in its producer
buffer, sent in the background and flushed before the next commit, and while that buffer
is over its limit Faust holds up the delivery of *every* topic's messages. A read model
writes one record per output it reads, so its writes would throttle the champion's inputs.

A :class:`TableWriter` writes the value into the table's store at once (what the next
read sees) and keeps its changelog record as an :class:`~streams.sinks.kafka_sender.Outgoing`
of the caller's batch: the caller produces it with its other outputs, straight through the
producer, waits for the broker's ack and only then acknowledges its inputs. So a record
read is acknowledged only once the state it changed is in Kafka, and nothing waits in
Faust's buffer. Recovery is Faust's own: it rebuilds the store from the changelog topic.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, MutableMapping
from typing import Any, Generic, TypeVar

import faust

from streams.sinks.kafka_sender import Outgoing, Sender, producer_sender

K = TypeVar("K", bound=Hashable)


class TableWriter(Generic[K]):
    """A table's store, read and written, with the changelog records of the writes kept
    until :meth:`take` (see the module docs)."""

    def __init__(
        self,
        store: MutableMapping[K, bytes],
        send: Sender,
        key_bytes: Callable[[K], bytes],
        partition: Callable[[K], int | None],
    ) -> None:
        self.store = store
        self.send = send
        self.key_bytes = key_bytes
        self.partition = partition
        self._pending: list[Outgoing] = []

    def get(self, key: K) -> bytes | None:
        return self.store.get(key)

    def __getitem__(self, key: K) -> bytes:
        return self.store[key]

    def __setitem__(self, key: K, value: bytes) -> None:
        self.store[key] = value
        self._pending.append(self._record(key, value))

    def pop(self, key: K, default: Any = None) -> bytes | None:
        """Delete ``key`` (a tombstone on the changelog); its value, or ``default``."""
        if key not in self.store:
            return default
        value = self.store.pop(key)
        self._pending.append(self._record(key, None))
        return value

    def keys(self) -> Iterator[K]:
        return iter(self.store.keys())

    def __len__(self) -> int:
        return len(self.store)

    def _record(self, key: K, value: bytes | None) -> Outgoing:
        return Outgoing(self.send, self.key_bytes(key), value, partition=self.partition(key))

    def take(self) -> list[Outgoing]:
        """The changelog records written since the last call, to produce now."""
        pending, self._pending = self._pending, []
        return pending

    @property
    def pending(self) -> int:
        return len(self._pending)


def _raw_key(key: str) -> bytes:
    return key.encode()


def _by_key(_: object) -> None:
    return None  # the producer's partitioner, on the raw key: the match's partition


def match_table_writer(app: faust.App, table: faust.TableT) -> TableWriter[str]:
    """The writer of a table keyed by raw ``match_id`` (``streams.app.match_table``)."""
    topic = table.changelog_topic.get_topic_name()
    return TableWriter(table.data, producer_sender(app, topic), _raw_key, _by_key)

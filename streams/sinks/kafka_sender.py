"""Producing one record to one topic, as the flow's publisher sees it: a :data:`Sender`."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

import faust

#: Kafka record headers: (name, value) pairs.
Headers = list[tuple[str, bytes]]


class Sender(Protocol):
    """``await send(key, value, headers, partition)`` hands the record to the producer and
    returns a future that resolves when the broker acknowledged it (or fails with the
    broker's error). A ``value`` of None is a tombstone; ``partition`` None lets the
    producer's partitioner pick (by key)."""

    def __call__(
        self,
        key: bytes | None,
        value: bytes | None,
        headers: Headers | None = None,
        partition: int | None = None,
    ) -> Awaitable[Awaitable[Any]]: ...


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to produce: where, its key, its bytes (None: a tombstone), its headers
    (trace context), and its partition when the key's hash would not give it."""

    send: Sender
    key: bytes | None
    value: bytes | None
    headers: Headers | None = None
    partition: int | None = None


def producer_sender(app: faust.App, topic: str) -> Sender:
    """Produce straight through the app's producer: the Topic/Channel layer adds per-record
    bookkeeping the flow does not use, and this is the hot path."""

    async def send(
        key: bytes | None,
        value: bytes | None,
        headers: Headers | None = None,
        partition: int | None = None,
    ) -> Awaitable[object]:
        return await app.producer.send(
            topic, key, value, partition=partition, timestamp=None, headers=headers
        )

    return send

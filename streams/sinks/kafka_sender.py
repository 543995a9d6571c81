"""Producing one record to one topic, as the flow's publisher sees it: a :data:`Sender`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import faust

#: ``await send(key, value)`` hands the record to the producer and returns a future that
#: resolves when the broker acknowledged it (or fails with the broker's error).
Sender = Callable[[bytes | None, bytes], Awaitable[Awaitable[Any]]]


def producer_sender(app: faust.App, topic: str) -> Sender:
    """Produce straight through the app's producer: the Topic/Channel layer adds per-record
    bookkeeping the flow does not use, and this is the hot path."""

    async def send(key: bytes | None, value: bytes) -> Awaitable[object]:
        return await app.producer.send(
            topic, key, value, partition=None, timestamp=None, headers=None
        )

    return send

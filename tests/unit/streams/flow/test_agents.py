"""The batch loop acks a batch only once its outputs are acknowledged (docs/adr/0004)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types.tuples import TP, ConsumerMessage, Message

from streams.flow.agents import BatchLoop
from streams.flow.records import RawRecord
from streams.metrics import Metrics


class AckRecorder:
    """The consumer side of ``Message.ack``: which offsets became committable."""

    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, message: Message) -> bool:
        self.acked.append(message.offset)
        return True


def message(offset: int) -> Message:
    msg = ConsumerMessage("in", 0, offset, 0.0, 0, None, b"m1", b"{}", None, tp=TP("in", 0))
    msg.incref()  # the conductor's reference, one per channel
    return msg


class TakeEventsStream:
    """Faust's ``take_events`` contract: yield a batch, ack every event in ``finally``."""

    def __init__(self, batches: list[list[Message]], consumer: AckRecorder) -> None:
        self.batches = batches
        self.consumer = consumer

    def take_events(self, max_: int, within: float) -> AsyncIterator[list[Any]]:
        self.generator = self._take_events()
        return self.generator

    async def _take_events(self) -> AsyncGenerator[list[Any], None]:
        for batch in self.batches:
            events = [SimpleNamespace(message=m) for m in batch]
            try:
                yield events
            finally:
                for event in events:
                    event.message.ack(self.consumer)


def batch_loop() -> BatchLoop:
    async def publish_dead_letters(letters: list[object]) -> None:
        return None

    publisher: Any = SimpleNamespace(publish_dead_letters=publish_dead_letters)
    return BatchLoop(publisher, Metrics(), batch_size=2, batch_wait=0.01)


async def drive(
    batches: list[list[Message]], handle: Callable[[list[RawRecord]], Awaitable[None]]
) -> AckRecorder:
    consumer = AckRecorder()
    stream = TakeEventsStream(batches, consumer)
    await batch_loop().run(stream, handle)  # type: ignore[arg-type]
    return consumer


async def test_a_finished_batch_is_acknowledged() -> None:
    seen: list[int] = []

    async def handle(raws: list[RawRecord]) -> None:
        seen.extend(r.offset for r in raws)

    consumer = await drive([[message(0), message(1)], [message(2)]], handle)

    assert seen == [0, 1, 2]
    assert consumer.acked == [0, 1, 2]


async def test_a_cancelled_batch_stays_unacknowledged() -> None:
    started = asyncio.Event()

    async def handle(raws: list[RawRecord]) -> None:
        if raws[0].offset == 2:
            started.set()
            await asyncio.sleep(60)  # outputs not yet acknowledged by the broker

    consumer = AckRecorder()
    stream = TakeEventsStream([[message(0), message(1)], [message(2), message(3)]], consumer)
    agent = asyncio.create_task(batch_loop().run(stream, handle))  # type: ignore[arg-type]
    await started.wait()
    agent.cancel()
    with pytest.raises(asyncio.CancelledError):
        await agent
    await stream.generator.aclose()  # what the loop does to the agent's generator at exit

    assert consumer.acked == [0, 1], "offsets 2 and 3 must be re-read, not committed"

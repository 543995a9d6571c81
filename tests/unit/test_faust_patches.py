"""The Faust fixes and the agents' ack guard, against Faust's own classes and refcounts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.consumer import Consumer, ThreadDelegateConsumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types.tuples import TP, ConsumerMessage, Message

from streams import faust_patches
from streams.agents import _run_batches
from streams.records import RawRecord


class SeekingConsumer:
    """Just what ``perform_seek`` and ``_getmany`` touch, recording the order of calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fetch_returns = asyncio.Event()
        self._thread = SimpleNamespace(getmany=self._thread_getmany)
        self.flow_active = True
        self._read_offset: dict[TP, int | None] = {TP("in", 0): 180}
        self._committed_offset: dict[TP, int | None] = {}

    def stop_flow(self) -> None:
        self.calls.append("stop_flow")
        self.flow_active = False

    async def seek_to_committed(self) -> dict[TP, int]:
        self.calls.append(f"seek(flow_active={self.flow_active})")
        return {TP("in", 0): 115}

    async def _thread_getmany(self, active_partitions: object, timeout: float) -> dict:
        self.calls.append("fetch sent")
        await self.fetch_returns.wait()
        self.calls.append("fetch landed")
        return {}


async def test_seek_to_committed_runs_with_the_delivery_loop_stopped() -> None:
    faust_patches.apply_faust_patches()
    consumer = SeekingConsumer()

    await Consumer.perform_seek(consumer)  # type: ignore[arg-type]

    assert consumer.calls == ["stop_flow", "seek(flow_active=False)"]
    assert consumer._read_offset[TP("in", 0)] == 115, "re-read from the committed offset"
    assert consumer._committed_offset[TP("in", 0)] == 115


async def test_seek_waits_for_a_fetch_in_flight_to_land() -> None:
    faust_patches.apply_faust_patches()
    consumer = SeekingConsumer()
    fetch = asyncio.create_task(ThreadDelegateConsumer._getmany(consumer, set(), 1.0))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    seek = asyncio.create_task(Consumer.perform_seek(consumer))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert consumer.calls == ["fetch sent", "stop_flow"], "no seek while records are coming"

    consumer.fetch_returns.set()
    await asyncio.gather(fetch, seek)

    assert consumer.calls[2:] == ["fetch landed", "seek(flow_active=False)"]


async def test_seek_to_committed_rewinds_partitions_never_committed() -> None:
    faust_patches.apply_faust_patches()
    rewound: list[TP] = []

    async def committed() -> dict[TP, int | None]:
        return {TP("in", 0): 115, TP("in", 1): None, TP("state-changelog", 1): None}

    async def seek_to_beginning(*tps: TP) -> None:
        rewound.extend(tps)

    consumer = SimpleNamespace(
        app=SimpleNamespace(conf=SimpleNamespace(consumer_auto_offset_reset="earliest")),
        _thread=SimpleNamespace(seek_to_committed=committed, seek_to_beginning=seek_to_beginning),
        _is_changelog_tp=lambda tp: tp.topic.endswith("-changelog"),
    )
    offsets = await ThreadDelegateConsumer.seek_to_committed(consumer)  # type: ignore[arg-type]

    assert offsets == {TP("in", 0): 115, TP("in", 1): None, TP("state-changelog", 1): None}
    assert rewound == [TP("in", 1)], "only the input partition with no committed offset"


def test_patches_apply_once() -> None:
    faust_patches.apply_faust_patches()
    seek, create = Consumer.perform_seek, AIOKafkaConsumerThread._create_worker_consumer
    faust_patches.apply_faust_patches()
    assert (Consumer.perform_seek, AIOKafkaConsumerThread._create_worker_consumer) == (
        seek,
        create,
    )


def test_worker_consumer_gets_the_short_fetch_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    made = SimpleNamespace(_fetch_max_wait_ms=1500)
    monkeypatch.setattr(AIOKafkaConsumerThread, "_create_worker_consumer", lambda s, t: made)

    faust_patches.bound_fetch_wait()
    consumer = AIOKafkaConsumerThread._create_worker_consumer(object(), object())  # type: ignore[arg-type]

    assert consumer is made and made._fetch_max_wait_ms == faust_patches.FETCH_MAX_WAIT_MS


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


def pipeline() -> Any:
    async def publish_dead_letters(letters: list[object]) -> None:
        return None

    return SimpleNamespace(
        settings=SimpleNamespace(batch_size=2, batch_wait_seconds=0.01),
        metrics=None,
        publish_dead_letters=publish_dead_letters,
    )


async def drive(
    batches: list[list[Message]], handle: Callable[[list[RawRecord]], Awaitable[None]]
) -> AckRecorder:
    consumer = AckRecorder()
    stream = TakeEventsStream(batches, consumer)
    await _run_batches(stream, pipeline(), handle)  # type: ignore[arg-type]
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
    agent = asyncio.create_task(_run_batches(stream, pipeline(), handle))  # type: ignore[arg-type]
    await started.wait()
    agent.cancel()
    with pytest.raises(asyncio.CancelledError):
        await agent
    await stream.generator.aclose()  # what the loop does to the agent's generator at exit

    assert consumer.acked == [0, 1], "offsets 2 and 3 must be re-read, not committed"

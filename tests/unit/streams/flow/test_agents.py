"""The batch loop: a batch is acknowledged only once its outputs are, the next batches are
computed meanwhile (bounded), and nothing is acknowledged that was not answered."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from types import SimpleNamespace
from typing import Any

import pytest

from schemas import DeadLetter
from streams.flow.agents import BatchLoop
from streams.flow.records import RawRecord
from streams.metrics import Metrics


def event(offset: int) -> Any:
    message = SimpleNamespace(
        topic="in", partition=0, offset=offset, key=b"m1", value=b"{}", timestamp=0.0, headers=[]
    )
    return SimpleNamespace(message=message)


class ListTake:
    """Batches from a list; records which offsets were acknowledged."""

    def __init__(self, batches: list[list[int]]) -> None:
        self.batches = [[event(o) for o in batch] for batch in batches]
        self.acked: list[int] = []
        self.waited_on: list[bool] = []
        self.changed = asyncio.Event()

    async def next(self, more_while: asyncio.Future[Any] | None = None) -> list[Any]:
        self.waited_on.append(more_while is not None)
        if not self.batches:
            await asyncio.sleep(3600)  # a quiet stream
        return self.batches.pop(0)

    async def ack(self, events: list[Any]) -> None:
        self.acked.extend(e.message.offset for e in events)
        self.changed.set()

    @property
    def waiting(self) -> int:
        return len(self.batches[0]) if self.batches else 0

    @property
    def drained(self) -> bool:
        return not self.batches


class Letters:
    def __init__(self) -> None:
        self.sent: list[DeadLetter] = []

    async def __call__(self, letters: list[DeadLetter]) -> None:
        self.sent.extend(letters)


async def run_until(loop: BatchLoop, take: ListTake, handle: Any, done: Any) -> None:
    runner = asyncio.create_task(loop.drive(take, handle, lambda: False))
    try:
        async with asyncio.timeout(5):
            while not done():
                await take.changed.wait()
                take.changed.clear()
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner


async def test_a_batch_is_acknowledged_once_its_confirmation_completes() -> None:
    take, gate = ListTake([[0, 1], [2]]), asyncio.Event()

    async def confirm() -> None:
        await gate.wait()

    async def handle(raws: list[RawRecord]) -> Awaitable[None]:
        return confirm()

    loop = BatchLoop(Letters(), Metrics(), batch_size=2)
    runner = asyncio.create_task(loop.drive(take, handle, lambda: False))
    await asyncio.sleep(0.05)
    assert take.drained and take.acked == [], "computed, but no output acknowledged yet"
    gate.set()
    await asyncio.sleep(0.05)
    assert sorted(take.acked) == [0, 1, 2]
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner


async def test_batches_waiting_for_acks_are_bounded() -> None:
    take, gate, handled = ListTake([[i] for i in range(10)]), asyncio.Event(), []

    async def confirm() -> None:
        await gate.wait()

    async def handle(raws: list[RawRecord]) -> Awaitable[None]:
        handled.append(raws[0].offset)
        return confirm()

    loop = BatchLoop(Letters(), Metrics(), batch_size=1, max_in_flight=3)
    runner = asyncio.create_task(loop.drive(take, handle, lambda: False))
    await asyncio.sleep(0.05)
    assert handled == [0, 1, 2], "three batches ahead of their acks, then the loop waits"
    assert take.waited_on[1:] == [True, True], "with work in flight a batch may wait for more"
    gate.set()
    await asyncio.sleep(0.05)
    assert handled == list(range(10)) and sorted(take.acked) == list(range(10))
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner


async def test_batches_in_flight_when_the_loop_stops_stay_unacknowledged() -> None:
    take, started = ListTake([[0, 1], [2, 3]]), asyncio.Event()

    async def confirm(offset: int) -> None:
        if offset == 2:
            started.set()
            await asyncio.sleep(60)  # outputs not yet acknowledged by the broker

    async def handle(raws: list[RawRecord]) -> Awaitable[None]:
        return confirm(raws[0].offset)

    loop = BatchLoop(Letters(), Metrics(), batch_size=2)
    runner = asyncio.create_task(loop.drive(take, handle, lambda: False))
    await started.wait()
    runner.cancel()  # a shutdown or a rebalance
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert take.acked == [0, 1], "offsets 2 and 3 must be re-read, not committed"


@pytest.mark.parametrize("where", ["handler", "confirmation"])
async def test_a_failed_batch_becomes_dead_letters_and_the_loop_goes_on(where: str) -> None:
    take, letters = ListTake([[0, 1], [2]]), Letters()

    async def refused() -> None:
        raise RuntimeError("the broker refused it for good")

    async def fine() -> None:
        return None

    async def handle(raws: list[RawRecord]) -> Awaitable[None]:
        if raws[0].offset == 0:
            if where == "handler":
                raise ValueError("a bug")
            return refused()
        return fine()

    loop = BatchLoop(letters, Metrics(), batch_size=2)
    await run_until(loop, take, handle, lambda: len(take.acked) == 3)
    assert [(lt.offset, lt.error.type) for lt in letters.sent] == [(0, "internal"), (1, "internal")]
    assert sorted(take.acked) == [0, 1, 2]


async def test_outputs_are_sent_at_once_when_no_event_is_waiting() -> None:
    take, quiet = ListTake([[0, 1], [2], [3]]), []

    async def done() -> None:
        return None

    async def handle(raws: list[RawRecord]) -> Awaitable[None]:
        return done()

    loop = BatchLoop(Letters(), Metrics(), batch_size=2, quiet=lambda: quiet.append(1))
    await run_until(loop, take, handle, lambda: len(take.acked) == 4)
    # After batch [0, 1] and [2] more events were waiting; after [3] none.
    assert len(quiet) == 1

"""ReadyTake on a real Faust stream (an agent's test context, no broker): what has arrived
is taken at once, a batch waits for more only while work is in flight, never more than
``max_`` events, and nothing is acknowledged until the caller says so."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import faust

from streams.faust_glue.ready_take import ReadyTake

Steps = asyncio.Queue[tuple[Callable[[ReadyTake], Any], asyncio.Future[Any]]]


@asynccontextmanager
async def agent_with_take(
    max_: int, on_buffered: Callable[[int], None] | None = None
) -> AsyncIterator[tuple[Any, Steps]]:
    """An agent whose stream is read through a ReadyTake; the test sends it steps to run."""
    app = faust.App("test-ready-take", store="memory://")
    steps: Steps = asyncio.Queue()

    @app.agent(key_type=bytes, value_type=bytes)
    async def reader(stream: faust.StreamT) -> None:
        async with ReadyTake(stream, max_, on_buffered) as take:
            while True:
                step, answer = await steps.get()
                try:
                    answer.set_result(await step(take))
                except Exception as exc:
                    answer.set_exception(exc)

    async with reader.test_context() as agent:
        yield agent, steps


async def run(steps: Steps, step: Callable[[ReadyTake], Any], timeout: float = 5.0) -> Any:
    answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    await steps.put((step, answer))
    return await asyncio.wait_for(answer, timeout)


def values(events: list[Any]) -> list[bytes]:
    return [e.value for e in events]


class InFlight(asyncio.Future[None]):
    """Work in flight that tells when a take begins to wait beside it (a take that waits
    for it asks to be woken when it is done)."""

    def __init__(self) -> None:
        super().__init__(loop=asyncio.get_running_loop())
        self.watched = asyncio.Event()

    def add_done_callback(self, fn: Any, *, context: Any = None) -> None:
        super().add_done_callback(fn, context=context)
        self.watched.set()


async def test_what_has_arrived_is_one_batch_of_at_most_max() -> None:
    told: list[int] = []
    full = asyncio.Event()

    def buffered(count: int) -> None:
        told.append(count)
        if count == 3:
            full.set()

    async with agent_with_take(3, buffered) as (agent, steps):
        # Queued at once: the delivery runs ahead as far as the take lets it.
        for i in range(5):
            await agent.put(str(i).encode(), wait=False)
        await asyncio.wait_for(full.wait(), 5)
        assert values(await run(steps, lambda take: take.next())) == [b"0", b"1", b"2"]
        assert values(await run(steps, lambda take: take.next())) == [b"3", b"4"]
        # The fourth arrived only once the first batch was taken: never more than 3 waiting.
        assert told == [1, 2, 3, 0, 1, 2, 0]


async def test_a_lone_event_goes_at_once_unless_work_is_in_flight() -> None:
    async with agent_with_take(10) as (agent, steps):
        await agent.put(b"quiet")
        assert values(await run(steps, lambda take: take.next(), timeout=1.0)) == [b"quiet"]

        in_flight = InFlight()
        await agent.put(b"while-busy")
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await steps.put((lambda take: take.next(in_flight), answer))
        await asyncio.wait_for(in_flight.watched.wait(), 5)
        assert not answer.done(), "with work in flight a batch that is not full waits"
        await agent.put(b"more")
        in_flight.set_result(None)
        assert values(await asyncio.wait_for(answer, 5)) == [b"while-busy", b"more"]


async def test_a_full_batch_does_not_wait_and_leaves_the_work_in_flight_alone() -> None:
    async with agent_with_take(2) as (agent, steps):
        in_flight: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await agent.put(b"a")
        await agent.put(b"b")
        assert values(await run(steps, lambda take: take.next(in_flight), timeout=1.0)) == [
            b"a",
            b"b",
        ]
        assert not in_flight.cancelled(), "the take must not cancel what it waited beside"


async def test_nothing_is_acknowledged_until_the_caller_acks() -> None:
    async with agent_with_take(5) as (agent, steps):
        await agent.put(b"x")
        [taken] = await run(steps, lambda take: take.next())
        assert not taken.message.acked
        await run(steps, lambda take: take.ack([taken]))
        assert taken.message.acked


async def test_a_limit_takes_fewer_and_each_change_of_the_buffer_is_told() -> None:
    told: list[int] = []
    three = asyncio.Event()

    def buffered(count: int) -> None:
        told.append(count)
        if count == 3:
            three.set()

    async with agent_with_take(10, buffered) as (agent, steps):
        for value in (b"a", b"b", b"c"):
            await agent.put(value)
        await three.wait()
        assert values(await run(steps, lambda take: take.next(limit=2))) == [b"a", b"b"]
        assert values(await run(steps, lambda take: take.next(limit=50))) == [b"c"]
        # As each event arrived, then after each take: what is left.
        assert told == [1, 2, 3, 1, 0]

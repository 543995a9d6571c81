"""The batch loop: a batch is acknowledged only once its outputs are, the next batches are
computed meanwhile (bounded), nothing is acknowledged that was not answered, and the
champion's activity says when it has work on hand."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest

from schemas import DeadLetter
from streams.flow.agents import BACKLOG_EVENTS, Activity, BatchLoop, dead_letter_failures
from streams.flow.records import RawRecord
from streams.metrics import Metrics


def event(offset: int) -> Any:
    message = SimpleNamespace(
        topic="in", partition=0, offset=offset, key=b"m1", value=b"{}", timestamp=0.0, headers=[]
    )
    return SimpleNamespace(message=message)


class ListTake:
    """Batches from a list (cut to the loop's ``limit``); records which offsets were
    acknowledged. It never yields to the event loop while it has events, so the loop's
    first yield is where it really waits."""

    def __init__(self, batches: list[list[int]]) -> None:
        self.batches = [[event(o) for o in batch] for batch in batches]
        self.acked: list[int] = []
        self.waited_on: list[bool] = []
        self.limits: list[int | None] = []
        self.changed = asyncio.Event()
        #: Set when the loop asks for more and there is none: it has taken everything.
        self.exhausted = asyncio.Event()

    async def next(
        self, more_while: asyncio.Future[Any] | None = None, limit: int | None = None
    ) -> list[Any]:
        self.waited_on.append(more_while is not None)
        self.limits.append(limit)
        if not self.batches:
            self.exhausted.set()
            await asyncio.Event().wait()  # a quiet stream: nothing ever comes
        batch = self.batches[0]
        most = len(batch) if limit is None else limit
        taken, self.batches[0] = batch[:most], batch[most:]
        if not self.batches[0]:
            self.batches.pop(0)
        return taken

    async def ack(self, events: list[Any]) -> None:
        self.acked.extend(e.message.offset for e in events)
        self.changed.set()

    async def until(self, done: Callable[[], bool]) -> None:
        while not done():
            await self.changed.wait()
            self.changed.clear()

    @property
    def waiting(self) -> int:
        return len(self.batches[0]) if self.batches else 0


class Letters:
    def __init__(self) -> None:
        self.sent: list[DeadLetter] = []

    async def __call__(self, letters: list[DeadLetter]) -> None:
        self.sent.extend(letters)


def dead_letters(letters: Letters, metrics: Metrics | None = None) -> Any:
    return dead_letter_failures(letters, metrics or Metrics())


async def done() -> None:
    return None


async def stop(runner: asyncio.Task[None]) -> None:
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner


async def run_until(loop: BatchLoop, take: ListTake, handle: Any, done: Any) -> None:
    runner = asyncio.create_task(loop.drive(take, handle, lambda: False))
    try:
        await take.until(done)
    finally:
        await stop(runner)


async def test_a_batch_is_acknowledged_once_its_confirmation_completes() -> None:
    take, gate = ListTake([[0, 1], [2]]), asyncio.Event()

    async def confirm() -> None:
        await gate.wait()

    async def handle(raws: list[RawRecord]) -> Awaitable[None]:
        return confirm()

    loop = BatchLoop(dead_letters(Letters()), batch_size=2)
    runner = asyncio.create_task(loop.drive(take, handle, lambda: False))
    await take.exhausted.wait()
    assert take.acked == [], "both batches computed, but no output acknowledged yet"
    gate.set()
    await take.until(lambda: len(take.acked) == 3)
    assert sorted(take.acked) == [0, 1, 2]
    await stop(runner)


async def test_batches_waiting_for_acks_are_bounded() -> None:
    take, gate, handled = ListTake([[i] for i in range(10)]), asyncio.Event(), []
    loop_waits = asyncio.Event()

    async def confirm(offset: int) -> None:
        if offset == 0:
            # The first settle runs at the loop's first yield: where it waits for room.
            loop_waits.set()
        await gate.wait()

    async def handle(raws: list[RawRecord]) -> Awaitable[None]:
        handled.append(raws[0].offset)
        return confirm(raws[0].offset)

    loop = BatchLoop(dead_letters(Letters()), batch_size=1, max_in_flight=3)
    runner = asyncio.create_task(loop.drive(take, handle, lambda: False))
    await loop_waits.wait()
    assert handled == [0, 1, 2], "three batches ahead of their acks, then the loop waits"
    assert take.waited_on == [False, True, True], "with work in flight a batch may wait"
    gate.set()
    await take.until(lambda: len(take.acked) == 10)
    assert handled == list(range(10)) and sorted(take.acked) == list(range(10))
    await stop(runner)


async def test_a_batch_is_at_most_batch_size_however_large_the_buffer() -> None:
    take = ListTake([[0, 1, 2, 3, 4]])
    sizes: list[int] = []

    async def handle(raws: list[RawRecord]) -> Awaitable[None]:
        sizes.append(len(raws))
        return done()

    loop = BatchLoop(dead_letters(Letters()), batch_size=2, buffer=1000)
    assert (loop.buffer, BatchLoop(dead_letters(Letters()), batch_size=2).buffer) == (1000, 2)
    await run_until(loop, take, handle, lambda: len(take.acked) == 5)
    assert sizes == [2, 2, 1] and set(take.limits) == {2}


async def test_batches_in_flight_when_the_loop_stops_stay_unacknowledged() -> None:
    take, started = ListTake([[0, 1], [2, 3]]), asyncio.Event()

    async def confirm(offset: int) -> None:
        if offset == 2:
            started.set()
            await asyncio.Event().wait()  # outputs never acknowledged by the broker

    async def handle(raws: list[RawRecord]) -> Awaitable[None]:
        return confirm(raws[0].offset)

    loop = BatchLoop(dead_letters(Letters()), batch_size=2)
    runner = asyncio.create_task(loop.drive(take, handle, lambda: False))
    await started.wait()
    await take.until(lambda: take.acked == [0, 1])
    await stop(runner)  # a shutdown or a rebalance
    assert take.acked == [0, 1], "offsets 2 and 3 must be re-read, not committed"


@pytest.mark.parametrize("where", ["handler", "confirmation"])
async def test_a_failed_batch_becomes_dead_letters_and_the_loop_goes_on(where: str) -> None:
    take, letters, metrics = ListTake([[0, 1], [2]]), Letters(), Metrics()

    async def refused() -> None:
        raise RuntimeError("the broker refused it for good")

    async def handle(raws: list[RawRecord]) -> Awaitable[None]:
        if raws[0].offset == 0:
            if where == "handler":
                raise ValueError("a bug")
            return refused()
        return done()

    loop = BatchLoop(dead_letters(letters, metrics), batch_size=2)
    await run_until(loop, take, handle, lambda: len(take.acked) == 3)
    assert [(lt.offset, lt.error.type) for lt in letters.sent] == [(0, "internal"), (1, "internal")]
    reason = "ValueError: a bug" if where == "handler" else "RuntimeError: the broker refused"
    assert all(lt.error.message.startswith(reason) for lt in letters.sent)
    counted = metrics.registry.get_sample_value("soccer_dead_letters_total", {"reason": "internal"})
    assert counted == 2.0
    assert sorted(take.acked) == [0, 1, 2]


async def test_a_failure_goes_to_the_loops_own_rule() -> None:
    """The read models' loop skips a failed chunk instead of dead-lettering it."""
    take, failures = ListTake([[0, 1], [2]]), []

    async def skip(raws: list[RawRecord], exc: Exception) -> None:
        failures.append(([r.offset for r in raws], str(exc)))

    async def handle(raws: list[RawRecord]) -> Awaitable[None]:
        if raws[0].offset == 2:
            raise KeyError("unreadable")
        return done()

    await run_until(BatchLoop(skip, 2), take, handle, lambda: len(take.acked) == 3)
    assert failures == [([2], "'unreadable'")]


async def test_outputs_are_sent_at_once_when_no_event_is_waiting() -> None:
    take, quiet = ListTake([[0, 1], [2], [3]]), []

    async def handle(raws: list[RawRecord]) -> Awaitable[None]:
        return done()

    loop = BatchLoop(dead_letters(Letters()), batch_size=2, quiet=lambda: quiet.append(1))
    await run_until(loop, take, handle, lambda: len(take.acked) == 4)
    # After batch [0, 1] and [2] more events were waiting; after [3] none.
    assert len(quiet) == 1


# --- the champion's activity -----------------------------------------------------------


class Waiting:
    """A take as the activity sees it: how many events wait."""

    def __init__(self, waiting: int = 0) -> None:
        self.waiting = waiting


async def test_the_champion_is_busy_while_a_batch_is_computed_and_never_after() -> None:
    activity, seen = Activity(), []

    async def handle(raws: list[RawRecord]) -> Awaitable[None]:
        seen.append((raws[0].offset, activity.busy()))
        if raws[0].offset == 1:
            raise ValueError("a bug")
        return done()

    take = ListTake([[0], [1], [2]])
    loop = BatchLoop(dead_letters(Letters()), 1, activity=activity)
    await run_until(loop, take, handle, lambda: len(take.acked) == 3)
    assert seen == [(0, True), (1, True), (2, True)]
    assert activity.computing == 0 and not activity.busy(), "a failed handler ends too"


async def test_a_backlog_counts_as_busy_until_it_drains() -> None:
    activity, take = Activity(), Waiting(BACKLOG_EVENTS - 1)
    activity.watch(take)  # type: ignore[arg-type]  # the one property the activity reads
    assert not activity.busy(), "the few events of a steady rate are no backlog"
    take.waiting = BACKLOG_EVENTS
    assert activity.busy()
    activity.unwatch(take)  # type: ignore[arg-type]
    assert not activity.busy()


async def test_idle_returns_when_the_last_batch_ends() -> None:
    activity = Activity()
    await activity.idle()  # nothing on hand: at once
    activity.started()
    activity.started()
    loop = asyncio.get_running_loop()
    # Both batches end once idle() is waiting (call_soon runs after it has yielded); with a
    # recheck far beyond the test's timeout, only the end of the last may wake it.
    loop.call_soon(activity.finished)
    loop.call_soon(activity.finished)
    await activity.idle(recheck=3600)
    assert activity.computing == 0


class Stuck(Activity):
    """Busy for ``rounds`` looks (a batch that waits long: for the model at start-up)."""

    def __init__(self, rounds: int) -> None:
        super().__init__()
        self.rounds = rounds

    def busy(self) -> bool:
        self.rounds -= 1
        return self.rounds >= 0


async def test_idle_keeps_no_waiter_it_stopped_waiting_on() -> None:
    activity = Stuck(rounds=100)
    activity.started()  # and never finished: nothing wakes the waiters
    await activity.idle(recheck=0)
    assert len(activity._waiters) <= 1

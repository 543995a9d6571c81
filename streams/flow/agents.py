"""The two agents: thin loops that hand micro-batches to the batch processor.

A batch is whatever has arrived (:class:`~streams.faust_glue.ready_take.ReadyTake`): one
event when the stream is quiet, more under load, at most ``BATCH_SIZE``. Its inputs are
acknowledged (their offsets may be committed) only after every output of the batch was
acknowledged by the broker. Meanwhile the next batches are already computed: up to
``max_in_flight`` batches may wait for their acks at once, so neither a batch of one nor a
full batch waits idle for the broker's round trip.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import faust
import structlog
from faust.types import EventT

from schemas import DeadLetter
from streams.faust_glue.ready_take import ReadyTake
from streams.flow.batch import BatchProcessor, Confirmation
from streams.flow.dead_letters import dead_letter
from streams.flow.records import RawRecord
from streams.metrics import Metrics

log = structlog.get_logger(__name__)
Handler = Callable[[list[RawRecord]], Awaitable[Confirmation]]
#: Batches computed ahead of their acks. Enough to keep a batch of one busy through a
#: broker round trip; bounded, so a broker that stops acknowledging stops the agent.
MAX_IN_FLIGHT = 8
#: Events waiting in an agent's buffer from which the champion counts as having a backlog:
#: more than the few that arrive while a batch waits for its acks at a steady rate.
BACKLOG_EVENTS = 32


class Take(Protocol):
    """Where the loop gets its batches and acks them (``ReadyTake`` on a Faust stream)."""

    @property
    def waiting(self) -> int: ...

    async def next(
        self, more_while: asyncio.Future[Any] | None = None, limit: int | None = None
    ) -> list[EventT]: ...

    async def ack(self, events: list[EventT]) -> None: ...


class Activity:
    """Whether the champion's agents have work on hand: a batch being computed, or a
    backlog waiting. What people read is built only when they have not
    (``streams.read_models``): the CPU goes to the next prediction first."""

    def __init__(self, backlog: int = BACKLOG_EVENTS) -> None:
        self.backlog = backlog
        self.computing = 0
        self._takes: list[Take] = []
        self._waiters: list[asyncio.Future[None]] = []

    def busy(self) -> bool:
        return self.computing > 0 or any(take.waiting >= self.backlog for take in self._takes)

    def watch(self, take: Take) -> None:
        self._takes.append(take)

    def unwatch(self, take: Take) -> None:
        self._takes.remove(take)

    def started(self) -> None:
        self.computing += 1

    def finished(self) -> None:
        self.computing -= 1
        if self.computing == 0:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def idle(self, recheck: float = 0.05) -> None:
        """Return once the champion has nothing on hand (re-checked every ``recheck`` s:
        a backlog drains only through batches, whose end wakes this at once)."""
        while self.busy():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await asyncio.wait((waiter,), timeout=recheck)
            if not waiter.done():
                self._waiters.remove(waiter)


#: What a loop does with a batch whose handling failed (a bug, or outputs refused for good).
Failure = Callable[[list[RawRecord], Exception], Awaitable[None]]


def dead_letter_failures(
    publish_dead_letters: Callable[[list[DeadLetter]], Awaitable[None]], metrics: Metrics
) -> Failure:
    """The champion's rule: every input of a failed batch goes to the DLQ as ``internal``."""

    async def dead_letter_all(raws: list[RawRecord], exc: Exception) -> None:
        # A bug, or outputs the broker refused for good, must not stop the agent or lose
        # the batch: every input of it goes to the DLQ with the error.
        log.error("batch_failed", records=len(raws), exc_info=exc)
        reason = f"{type(exc).__name__}: {exc}"
        letters = [dead_letter(raw, "internal", reason, metrics) for raw in raws]
        await publish_dead_letters(letters)

    return dead_letter_all


class BatchLoop:
    """How every agent walks its stream: batches in, one handler call each, nothing lost."""

    def __init__(
        self,
        on_failure: Failure,
        batch_size: int,
        *,
        max_in_flight: int = MAX_IN_FLIGHT,
        quiet: Callable[[], None] = lambda: None,
        activity: Activity | None = None,
        buffer: int | None = None,
        on_buffered: Callable[[int], None] | None = None,
        gather_seconds: float | None = None,
    ) -> None:
        """``on_failure`` takes a batch whose handler or confirmation failed (the batch is
        then acknowledged). ``quiet()`` is called after a batch's outputs were handed over
        when no further event is waiting: the worker ends the producer's linger then
        (``send_now``). ``activity`` is told when a batch is computed and sees the loop's
        backlog. ``buffer`` (default ``batch_size``) is how many events may wait taken
        from Faust, told to ``on_buffered`` as each arrives (``ReadyTake``). With
        ``gather_seconds`` a batch that is not full waits that long for more (instead of
        as long as the newest batch in flight): for a loop whose freshness matters less
        than its cost per batch."""
        self.on_failure = on_failure
        self.quiet = quiet
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight
        self.activity = activity or Activity()
        self.buffer = buffer or batch_size
        self.on_buffered = on_buffered
        self.gather_seconds = gather_seconds

    async def run(self, stream: faust.StreamT, handle: Handler) -> None:
        async with ReadyTake(stream, self.buffer, self.on_buffered) as take:
            self.activity.watch(take)
            try:
                await self.drive(take, handle, lambda: bool(stream.should_stop))
            finally:
                self.activity.unwatch(take)

    async def drive(self, take: Take, handle: Handler, stopping: Callable[[], bool]) -> None:
        """Take, handle and settle batches until ``stopping()``; on the way out (a stop, a
        rebalance) batches still waiting for acks are cancelled unacknowledged, so their
        inputs are read again."""
        in_flight: deque[asyncio.Task[None]] = deque()
        try:
            while not stopping():
                events = await take.next(self._more_while(in_flight), limit=self.batch_size)
                if not events:
                    continue
                raws = [RawRecord.from_event(event) for event in events]
                self.activity.started()
                try:
                    confirmation = await handle(raws)
                except Exception as exc:
                    confirmation = self.on_failure(raws, exc)
                finally:
                    self.activity.finished()
                if not take.waiting:
                    self.quiet()  # no company is coming for these outputs: send them now
                settling = self._settle(take, events, raws, confirmation)
                in_flight.append(asyncio.create_task(settling))
                while in_flight and in_flight[0].done():
                    in_flight.popleft().result()  # a batch that could not even be dead-lettered
                if len(in_flight) >= self.max_in_flight:
                    await in_flight.popleft()
        finally:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)

    def _more_while(self, in_flight: deque[asyncio.Task[None]]) -> asyncio.Future[Any] | None:
        """What a batch that is not full waits for more events until: the newest batch in
        flight, or the gathering time."""
        if self.gather_seconds is None:
            return in_flight[-1] if in_flight else None
        loop = asyncio.get_running_loop()
        gathered: asyncio.Future[None] = loop.create_future()
        loop.call_later(self.gather_seconds, _resolve, gathered)
        return gathered

    async def _settle(
        self, take: Take, events: list[EventT], raws: list[RawRecord], confirmation: Confirmation
    ) -> None:
        try:
            await confirmation
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self.on_failure(raws, exc)
        await take.ack(events)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def register_agents(
    app: faust.App,
    loop: BatchLoop,
    processor: BatchProcessor,
    livescores_topic: faust.TopicT,
    match_requests_topic: faust.TopicT,
) -> None:
    """One agent per input topic, each processing its partitions in order."""

    @app.agent(livescores_topic, name="predict_livescores")
    async def predict_livescores(stream: faust.StreamT) -> None:
        await loop.run(stream, processor.livescores)

    @app.agent(match_requests_topic, name="answer_match_requests")
    async def answer_match_requests(stream: faust.StreamT) -> None:
        await loop.run(stream, processor.requests)

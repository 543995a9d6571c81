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


class Take(Protocol):
    """Where the loop gets its batches and acks them (``ReadyTake`` on a Faust stream)."""

    @property
    def waiting(self) -> int: ...

    async def next(self, more_while: asyncio.Future[Any] | None = None) -> list[EventT]: ...

    async def ack(self, events: list[EventT]) -> None: ...


class BatchLoop:
    """How every agent walks its stream: batches in, one handler call each, nothing lost."""

    def __init__(
        self,
        publish_dead_letters: Callable[[list[DeadLetter]], Awaitable[None]],
        metrics: Metrics,
        batch_size: int,
        max_in_flight: int = MAX_IN_FLIGHT,
        quiet: Callable[[], None] = lambda: None,
    ) -> None:
        """``quiet()`` is called after a batch's outputs were handed over when no further
        event is waiting: the worker ends the producer's linger then (``send_now``)."""
        self.publish_dead_letters = publish_dead_letters
        self.quiet = quiet
        self.metrics = metrics
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight

    async def run(self, stream: faust.StreamT, handle: Handler) -> None:
        async with ReadyTake(stream, self.batch_size) as take:
            await self.drive(take, handle, lambda: bool(stream.should_stop))

    async def drive(self, take: Take, handle: Handler, stopping: Callable[[], bool]) -> None:
        """Take, handle and settle batches until ``stopping()``; on the way out (a stop, a
        rebalance) batches still waiting for acks are cancelled unacknowledged, so their
        inputs are read again."""
        in_flight: deque[asyncio.Task[None]] = deque()
        try:
            while not stopping():
                events = await take.next(in_flight[-1] if in_flight else None)
                if not events:
                    continue
                raws = [RawRecord.from_event(event) for event in events]
                try:
                    confirmation = await handle(raws)
                except Exception as exc:
                    confirmation = self._dead_letter_all(raws, exc)
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

    async def _settle(
        self, take: Take, events: list[EventT], raws: list[RawRecord], confirmation: Confirmation
    ) -> None:
        try:
            await confirmation
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._dead_letter_all(raws, exc)
        await take.ack(events)

    async def _dead_letter_all(self, raws: list[RawRecord], exc: Exception) -> None:
        # A bug, or outputs the broker refused for good, must not stop the agent or lose
        # the batch: every input of it goes to the DLQ as `internal` with the error.
        log.error("batch_failed", records=len(raws), exc_info=exc)
        reason = f"{type(exc).__name__}: {exc}"
        letters = [dead_letter(raw, "internal", reason, self.metrics) for raw in raws]
        await self.publish_dead_letters(letters)


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

"""The two agents: thin loops that hand micro-batches to the batch processor.

A batch's events are acknowledged (their offsets may be committed) only after every
prediction and dead letter of the batch was acknowledged by the broker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import faust
import structlog

from streams.flow.batch import BatchProcessor
from streams.flow.dead_letters import dead_letter
from streams.flow.publish import Publisher
from streams.flow.records import RawRecord
from streams.metrics import Metrics

log = structlog.get_logger(__name__)
Handler = Callable[[list[RawRecord]], Awaitable[None]]


class BatchLoop:
    """How every agent walks its stream: batches in, one handler call each, nothing lost."""

    def __init__(
        self, publisher: Publisher, metrics: Metrics, batch_size: int, batch_wait: float
    ) -> None:
        self.publisher = publisher
        self.metrics = metrics
        self.batch_size = batch_size
        self.batch_wait = batch_wait

    async def run(self, stream: faust.StreamT, handle: Handler) -> None:
        async for events in stream.take_events(self.batch_size, within=self.batch_wait):
            # ``take_events`` acks the batch in a ``finally``, so also when the loop body is
            # cancelled (shutdown, rebalance) or raises: one extra reference per message,
            # dropped only once the batch's outputs are acknowledged, turns that ack into a
            # no-op for an unfinished batch, and its offsets stay uncommitted to be re-read
            # (docs/adr/0004-hold-batch-until-outputs-acked.md).
            held = [event.message for event in events]
            for message in held:
                message.incref()
            raws = [RawRecord.from_event(event) for event in events]
            try:
                await handle(raws)
            except Exception as exc:
                # A bug must not stop the agent or lose the batch: every input of it goes
                # to the DLQ as `internal` with the error, and the loop goes on.
                log.exception("batch_failed", records=len(raws))
                reason = f"{type(exc).__name__}: {exc}"
                letters = [dead_letter(raw, "internal", reason, self.metrics) for raw in raws]
                await self.publisher.publish_dead_letters(letters)
            for message in held:
                message.decref()


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

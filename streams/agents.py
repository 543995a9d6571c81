"""The two agents: thin loops that hand micro-batches to the pipeline.

A batch's events are acknowledged (their offsets may be committed) only after every
prediction and dead letter of the batch was acknowledged by the broker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import faust
import structlog

from streams.dead_letters import dead_letter
from streams.pipeline import Pipeline
from streams.records import RawRecord

log = structlog.get_logger(__name__)
Handler = Callable[[list[RawRecord]], Awaitable[None]]


async def _run_batches(stream: faust.StreamT, pipeline: Pipeline, handle: Handler) -> None:
    settings = pipeline.settings
    async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_seconds):
        # ``take_events`` acks the batch in a ``finally``, so also when the loop body is
        # cancelled (shutdown, rebalance) or raises: one extra reference per message,
        # dropped only once the batch's outputs are acknowledged, turns that ack into a
        # no-op for an unfinished batch, and its offsets stay uncommitted to be re-read.
        held = [event.message for event in events]
        for message in held:
            message.incref()
        raws = [RawRecord.from_event(event) for event in events]
        try:
            await handle(raws)
        except Exception as exc:
            # A bug must not stop the agent or lose the batch: every input of it goes to
            # the DLQ as `internal` with the error, and the loop goes on.
            log.exception("batch_failed", records=len(raws))
            letters = [
                dead_letter(raw, "internal", f"{type(exc).__name__}: {exc}", pipeline.metrics)
                for raw in raws
            ]
            await pipeline.publish_dead_letters(letters)
        for message in held:
            message.decref()


def register_agents(
    app: faust.App,
    pipeline: Pipeline,
    livescores_topic: faust.TopicT,
    match_requests_topic: faust.TopicT,
) -> None:
    """One agent per input topic, each processing its partitions in order."""

    @app.agent(livescores_topic, name="predict_livescores")
    async def predict_livescores(stream: faust.StreamT) -> None:
        await _run_batches(stream, pipeline, pipeline.handle_livescores)

    @app.agent(match_requests_topic, name="answer_match_requests")
    async def answer_match_requests(stream: faust.StreamT) -> None:
        await _run_batches(stream, pipeline, pipeline.handle_requests)

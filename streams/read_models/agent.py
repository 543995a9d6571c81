"""The read models' agent: the output topics in, the timelines, forecasts and scores out.

One agent reads ``predictions``, ``predictions-shadow`` and the results topic, which share
the inputs' partitioning by match id, so the worker that owns a match's inputs also owns
its outputs and its read models; each read model's table has a changelog, so it survives a
restart and moves with a rebalance.

**Beside the champion, never in its way.** The read models run on the champion's event
loop, so every chunk they apply waits until the champion has nothing on hand
(:class:`streams.flow.agents.Activity`): no batch being computed and no backlog waiting.
At a steady rate that is most of the time, and each chunk is small, so a prediction waits
at most one chunk. While the champion drains a backlog the read models wait, and once they
hold :data:`HOLD_HIGH` records their partitions are paused (:class:`OutputFlow`): the
backlog then costs the champion nothing more, and a full buffer never blocks Faust's
delivery of the champion's own inputs. They
catch up once the backlog is gone. How far behind they are is on ``/ready`` and the status
page; under a load the champion cannot keep up with, they stay behind for as long as it
lasts (predictions come first).

Records are acknowledged once applied and the scores they made are acknowledged by the
broker, so after a crash they are read again: every read model keys what it keeps by what
identifies an output, and a duplicate changes nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

import faust
import structlog
from aiokafka.structs import TopicPartition

from streams.flow.agents import Activity, BatchLoop
from streams.flow.batch import Confirmation
from streams.flow.publish import Publisher
from streams.flow.records import RawRecord
from streams.metrics import Metrics
from streams.read_models.builder import ReadModels

log = structlog.get_logger(__name__)

#: Records held unapplied from which the outputs' partitions are paused, and down to which
#: they are resumed: a backlog stops the fetching soon, and a steady rate never pauses.
HOLD_HIGH: Final = 512
HOLD_LOW: Final = 64
#: Records applied between two looks at the champion: a chunk is a few milliseconds.
CHUNK: Final = 64
#: How long a chunk that is not full waits for more: people read pages a second apart, and
#: a chunk of many records costs the worker far less than many chunks of a few.
GATHER_SECONDS: Final = 0.1
#: The take's own cap, far above HOLD_HIGH: one fetch that arrives after the pause is still
#: delivered whole, and a full buffer would block Faust's delivery of every topic.
READ_BUFFER: Final = 1 << 20


class OutputFlow:
    """Stops and restarts the fetching of the output topics' partitions.

    At the aiokafka consumer, in Faust's consumer thread: a paused partition is fetched no
    more, and records of it that were fetched but not handed over yet are dropped without
    moving its position, so they are fetched again after the resume. Not Faust's own
    ``pause_partitions``: faust-streaming 0.15's ``getmany`` drops, without seeking back,
    the records of a partition paused while a fetch of it is being delivered, so a pause in
    the middle of a delivery lost them until the next rebalance. Nor Faust's buffer-full
    flow control, which lets every record already fetched (a whole fetch of each
    partition) be delivered to the read models during a backlog.
    """

    def __init__(self, app: faust.App, topics: Sequence[str]) -> None:
        self.app = app
        self.topics = frozenset(topics)
        self.paused = False

    def _assigned(self) -> list[Any]:
        return [tp for tp in self.app.consumer.assignment() if tp.topic in self.topics]

    def held(self, count: int) -> None:
        """``count`` records wait to be taken (called as each arrives and after a take)."""
        # Again every HOLD_HIGH records: partitions assigned since the pause stop too.
        if count >= HOLD_HIGH and (not self.paused or count % HOLD_HIGH == 0):
            self._in_consumer_thread("pause")
            self.paused = True
        elif self.paused and count <= HOLD_LOW:
            self._in_consumer_thread("resume")
            self.paused = False

    def _in_consumer_thread(self, what: str) -> None:
        # aiokafka 0.14's consumer lives in Faust's consumer thread, on that thread's loop:
        # pausing and resuming are one call there (resume wakes that loop's fetcher).
        thread = self.app.consumer._thread  # type: ignore[attr-defined]  # Faust internals
        consumer = thread._consumer
        tps = [TopicPartition(tp.topic, tp.partition) for tp in self._assigned()]
        if consumer is not None and tps:
            call = getattr(consumer, what)
            thread.thread_loop.call_soon_threadsafe(lambda: call(*tps))


def read_model_topic(app: faust.App, models: ReadModels, partitions: int) -> faust.TopicT:
    """The output topics as the read models' agent reads them (raw bytes)."""
    return app.topic(*models.topics, partitions=partitions, key_type=bytes, value_type=bytes)


class ReadModelHandler:
    """One chunk of outputs into the read models, once the champion is idle; what they
    wrote and scored is handed to the producer, and the confirmation waits for its acks."""

    def __init__(
        self, models: ReadModels, champion: Activity, publisher: Publisher, metrics: Metrics
    ) -> None:
        self.models = models
        self.champion = champion
        self.publisher = publisher
        self.metrics = metrics

    async def __call__(self, raws: list[RawRecord]) -> Confirmation:
        await self.champion.idle()
        scores = self.models.apply(raws, dt.datetime.now(dt.UTC))
        confirmation = await self.publisher.hand_over_read_models(self.models.changelog(), scores)
        await asyncio.sleep(0)  # let the champion's woken work run before the next chunk
        return confirmation

    async def failed(self, raws: list[RawRecord], exc: Exception) -> None:
        """A chunk that failed is counted, logged and skipped (a read model must never stop
        the agent); what it wrote before failing is produced all the same."""
        self.metrics.read_model_errors.inc()
        log.error("read_model_failed", records=len(raws), at=raws[0].location, exc_info=exc)
        await (await self.publisher.hand_over_read_models(self.models.changelog(), []))


def register_read_model_agent(
    app: faust.App,
    models: ReadModels,
    champion: Activity,
    publisher: Publisher,
    metrics: Metrics,
    partitions: int,
) -> None:
    """The read models' agent on ``app``: chunks of outputs, pipelined like the champion's
    batches, applied only when ``champion`` is idle."""
    flow = OutputFlow(app, models.topics)
    handler = ReadModelHandler(models, champion, publisher, metrics)
    loop = BatchLoop(
        handler.failed,
        CHUNK,
        buffer=READ_BUFFER,
        on_buffered=flow.held,
        gather_seconds=GATHER_SECONDS,
    )

    @app.agent(read_model_topic(app, models, partitions), name="build_read_models")
    async def build_read_models(stream: faust.StreamT) -> None:
        await loop.run(stream, handler)

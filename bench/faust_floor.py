"""Faust's own floor: the worker's Faust app and batching, doing no work.

    .venv/bin/python -m bench.faust_floor --body-size 560   (settings from the environment)

Run by ``python -m bench`` as a child process until it is stopped. The app is built by the
same ``streams.app.tuned_app`` as the worker (same consumer, producer and stream tuning,
same Faust fixes), and its agent runs the worker's own ``BatchLoop``: the same batches of
whatever has arrived, the same batches in flight, each event answered with a
prediction-sized record, its input acknowledged only after the broker acknowledged the
output. What separates this row from the bare aiokafka loop is Faust; what separates the
pipeline from this row is our work (decode, state, enrich, predict, Redis).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable

import faust

from schemas import DeadLetter
from streams.app import input_topic, run_worker, tuned_app
from streams.flow.agents import BatchLoop
from streams.flow.records import RawRecord
from streams.logs import configure_logging
from streams.metrics import Metrics
from streams.settings import Settings
from streams.sinks.kafka_sender import producer_sender


async def no_dead_letters(letters: list[DeadLetter]) -> None:
    raise RuntimeError("the floor's relay never fails a batch")


def floor_app(settings: Settings, body: bytes) -> faust.App:
    app = tuned_app(settings)
    source = input_topic(app, settings.livescores_topic, settings)
    send = producer_sender(app, settings.predictions_topic)
    loop = BatchLoop(no_dead_letters, Metrics(), settings.batch_size)

    async def relay_batch(raws: list[RawRecord]) -> Awaitable[object]:
        acks = [await send(raw.key, body) for raw in raws]
        return asyncio.gather(*acks)  # the batch's confirmation: every output acknowledged

    @app.agent(source, name="relay")
    async def relay(stream: faust.StreamT) -> None:
        await loop.run(stream, relay_batch)  # type: ignore[arg-type]  # a gather is awaitable

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--body-size", type=int, required=True)
    args = parser.parse_args()
    settings = Settings()
    configure_logging(settings.log_level)
    run_worker(floor_app(settings, b"x" * args.body_size), settings)


if __name__ == "__main__":
    main()

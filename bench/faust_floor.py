"""Faust's own floor: the worker's Faust app, doing no work.

    .venv/bin/python -m bench.faust_floor --body-size 560   (settings from the environment)

Run by ``python -m bench`` as a child process until it is stopped. The app is built by the
same ``streams.app.tuned_app`` as the worker (same consumer, producer and stream tuning,
same Faust fixes), and its agent takes batches the way Faust offers for throughput,
``take_events(BATCH_SIZE, within=20 ms)``, answers each event with a prediction-sized
record and acknowledges the batch only after the broker acknowledged its outputs. It is
what the issue of 2026-11 called the Faust floor: the worker's own batching
(``streams.flow.agents``) is not used here, so a change there cannot move the floor it is
compared with. What separates this row from the bare aiokafka loop is Faust; what
separates the pipeline from this row is our work and our batching.
"""

from __future__ import annotations

import argparse
import asyncio

import faust

from streams.app import input_topic, run_worker, tuned_app
from streams.logs import configure_logging
from streams.settings import Settings
from streams.sinks.kafka_sender import producer_sender

#: Faust's own batching window for the floor (the worker's fixed window before 2026-12).
WITHIN_SECONDS = 0.02


def floor_app(settings: Settings, body: bytes) -> faust.App:
    app = tuned_app(settings)
    source = input_topic(app, settings.livescores_topic, settings)
    send = producer_sender(app, settings.predictions_topic)

    @app.agent(source, name="relay")
    async def relay(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_size, within=WITHIN_SECONDS):
            acks = [await send(event.message.key, body) for event in events]
            await asyncio.gather(*acks)

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

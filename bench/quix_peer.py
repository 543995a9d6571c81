"""The peer: the same enrich-and-predict flow written with Quix Streams.

    .venv/bin/python -m bench.quix_peer   # settings from the environment, like the worker

Run by ``python -m bench`` as a child process until it is stopped. Quix Streams hands the
callback one message at a time, so every event is one decode, one state write (its
RocksDB store with a changelog, like ``match_to_state``), one feature lookup and one
predict call, through :class:`bench.serving.OneByOne`: the service's own functions. It
does not write Redis, so it does a little less than the Faust worker.
"""

from __future__ import annotations

import logging
from typing import Any

from quixstreams import Application

from bench.serving import OneByOne
from streams.settings import Settings


def build(settings: Settings) -> Application:
    serving = OneByOne.load(settings)
    app = Application(
        broker_address=settings.kafka_bootstrap_servers,
        consumer_group=settings.consumer_group,
        auto_offset_reset="earliest",
        state_dir=str(settings.state_dir / "quix"),
        processing_guarantee="at-least-once",
        commit_interval=1.0,  # the Faust worker commits every second too
        loglevel=logging.WARNING,
    )
    source = app.topic(
        settings.livescores_topic, key_deserializer="bytes", value_deserializer="bytes"
    )
    sink = app.topic(settings.predictions_topic, key_serializer="bytes", value_serializer="bytes")

    def answer(value: bytes, key: bytes, timestamp: int, headers: Any, state: Any) -> bytes:
        # Quix state is per message key (the match), like the Faust table.
        state.set("state", value.decode())
        return serving.predict(key, value)

    app.dataframe(source).apply(answer, stateful=True, metadata=True).to_topic(sink)
    return app


def main() -> None:
    build(Settings()).run()


if __name__ == "__main__":
    main()

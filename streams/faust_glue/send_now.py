"""Send what the producer holds now, instead of at the end of its linger.

The producer lingers (``PRODUCER_LINGER_SECONDS``) so that, under load, the outputs of
batches computed back to back share produce requests. A quiet stream must not pay that
wait: when the batch loop finds no further events waiting, it calls :func:`send_now`, which
ends the linger of every open batch of the worker's aiokafka producer at once.

It reaches into aiokafka's message accumulator the way aiokafka's own ``flush_for_commit``
does (close each open batch's builder, wake the sender), so it is written for aiokafka
0.14 like the Faust patches (``streams.faust_glue.patches.WRITTEN_FOR``);
docs/adr/0007-send-now.md.
"""

from __future__ import annotations

from typing import Any

import faust

#: How long the producer may hold a record for company while the stream is busy.
PRODUCER_LINGER_SECONDS = 0.005


def send_now(app: faust.App) -> None:
    """End the linger of the worker producer's open batches (a no-op before it started)."""
    producer: Any = getattr(app.producer, "_producer", None)
    accumulator: Any = getattr(producer, "_message_accumulator", None)
    if accumulator is None:
        return
    for batches in accumulator._batches.values():
        for batch in batches:
            batch._builder.close()  # a closed batch is ready: aiokafka's drain takes it
    waiter = accumulator._waiter_future
    if not waiter.done():
        waiter.set_result(None)

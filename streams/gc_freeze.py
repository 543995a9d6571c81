"""Keep the long-lived heap out of the garbage collector's full passes.

With MLflow, pandas, scikit-learn and Faust loaded a worker tracks ~260k objects, and a
full (generation 2) collection walks all of them: ~165 ms on our machines, a pause that
lands on whichever events are in flight and alone pushes p99 past 100 ms. The model,
feature snapshot and libraries live as long as the process, so once they are loaded
they are collected one last time and frozen (``gc.freeze``): later full passes walk only
what was allocated since. A model swap brings a new long-lived model, so it is frozen
again then (the pass is short, as the old heap is already frozen).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)


def freeze_long_lived(reason: str) -> None:
    started = time.perf_counter()
    collected = gc.collect()
    gc.freeze()
    log.info(
        "gc_frozen",
        reason=reason,
        frozen=gc.get_freeze_count(),
        collected=collected,
        pause_ms=round((time.perf_counter() - started) * 1000, 1),
    )


async def freeze_when_loaded(
    loaded: Callable[[], object], ready: list[asyncio.Event], check_seconds: float = 5.0
) -> None:
    """Freeze once everything in ``ready`` is set, then again whenever ``loaded()`` (the
    serving model) changes identity."""
    for event in ready:
        await event.wait()
    current = loaded()
    freeze_long_lived("started")
    while True:
        await asyncio.sleep(check_seconds)
        if loaded() is not current:
            current = loaded()
            freeze_long_lived("model_swapped")

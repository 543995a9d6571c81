"""Keep the long-lived heap out of the garbage collector's full passes.

With MLflow, pandas, scikit-learn and Faust loaded a worker tracks a few hundred thousand
objects, and a full (generation 2) collection walks all of them: a pause long enough to
show in the latency percentiles, landing on whichever events are in flight
(docs/benchmarks.md has the measurements). The model, feature snapshot and libraries live
as long as the process, so once they are loaded they are collected one last time and
frozen (``gc.freeze``): later full passes walk only what was allocated since. A model swap
brings a new long-lived model, so it is frozen again then (the pass is short, as the old
heap is already frozen). So do the tables a recovery (a start, a rebalance) read back from
their changelogs: a worker restarted on 120,000 read-model records walked them all in
every full pass until they were frozen too.

Once frozen, the heap left to a full pass is small, and CPython starts one whenever ten
younger passes ran and that small heap grew by a quarter: every half second or so under
load, each a pause of 5-20 ms on the event loop. :data:`FULL_PASS_EVERY` spaces them ten
times further apart. Young cycles are still collected as often as before; only garbage
that outlived two younger passes waits longer for its full pass.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Sequence

import mode
import structlog

log = structlog.get_logger(__name__)

#: Younger (generation 1) passes between two full passes once the heap is frozen
#: (CPython's default is 10).
FULL_PASS_EVERY = 100


def freeze_long_lived(reason: str) -> None:
    started = time.perf_counter()
    collected = gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_PASS_EVERY)
    log.info(
        "gc_frozen",
        reason=reason,
        frozen=gc.get_freeze_count(),
        collected=collected,
        pause_ms=round((time.perf_counter() - started) * 1000, 1),
    )


class HeapFreezer(mode.Service):
    """Freezes the heap once everything in ``loaded`` is set, and again after each swap
    (call :meth:`after_swap` from the model server's swap hook)."""

    def __init__(self, loaded: Sequence[asyncio.Event]) -> None:
        super().__init__()
        self.loaded = loaded
        self.frozen = asyncio.Event()

    def after_swap(self, _model: object = None) -> None:
        if self.frozen.is_set():  # the first load is frozen by the start-up freeze
            freeze_long_lived("model_swapped")

    async def after_recovery(self, _sender: object = None, **_kwargs: object) -> None:
        """Faust's ``on_rebalance_complete`` signal: the recovered tables are long-lived."""
        if self.frozen.is_set():  # else the start-up freeze, still to come, takes them
            freeze_long_lived("tables_recovered")

    @mode.Service.task
    async def _freeze_when_loaded(self) -> None:
        for event in self.loaded:
            await event.wait()
        freeze_long_lived("started")
        self.frozen.set()

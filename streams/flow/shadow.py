"""Challengers in shadow: the same batch, scored by each challenger, off the champion's path.

Each challenger predicts in a thread of its own, started alongside the champion's predict.
The champion's outputs are published first; then the batch waits for the challengers at
most ``wait_seconds`` (counted from when they were handed over). A challenger's batches
queue on its one thread while it works through earlier ones (batches overlap: the
champion computes the next while one waits for its acks), so one that keeps up answers
every batch and its live scores are those of every event, as the champion's are. Only
past :data:`QUEUED_BATCHES` waiting is a batch skipped for it; a late one is left to finish
alone and its answer dropped, a failing one is skipped: the champion's outputs never
depend on them and its batches wait for them no longer than the budget.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import mode
import structlog

from schemas.features import ModelInput
from streams.flow.predict import RowOutput, predict_rows
from streams.live.model_server import ServingModel
from streams.metrics import Metrics

log = structlog.get_logger(__name__)
#: Batches that may wait for one challenger's thread before the next one is skipped for it:
#: the few that overlap at a steady rate, not a backlog.
QUEUED_BATCHES = 4


@dataclass(frozen=True)
class ShadowRun:
    """One challenger's predict of one batch, under way."""

    model: ServingModel
    future: Future[list[RowOutput]]
    started: float


class ShadowRunner(mode.Service):
    """Starts and collects the challengers' predictions of each batch; its threads end
    with the worker."""

    def __init__(self, metrics: Metrics, wait_seconds: float) -> None:
        super().__init__()
        self.metrics = metrics
        self.wait_seconds = wait_seconds
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._queued: dict[str, list[Future[list[RowOutput]]]] = {}

    def begin(self, challengers: dict[str, ServingModel], inputs: ModelInput) -> list[ShadowRun]:
        """Begin a predict per challenger that is free; count the ones that are not."""
        runs = []
        for model in challengers.values():
            version = model.ref.version
            queued = [f for f in self._queued.get(version, []) if not f.done()]
            if len(queued) >= QUEUED_BATCHES:
                self.metrics.shadow_skipped.labels(version=version, reason="busy").inc()
                continue
            executor = self._executors.get(version)
            if executor is None:
                executor = self._executors[version] = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix=f"shadow-v{version}"
                )
            future = executor.submit(predict_rows, model.predictor, inputs)
            self._queued[version] = [*queued, future]
            runs.append(ShadowRun(model, future, time.perf_counter()))
        return runs

    async def finish(self, runs: list[ShadowRun]) -> list[tuple[ServingModel, list[RowOutput]]]:
        """The challengers' outputs that arrived within the budget."""
        if not runs:
            return []
        waited = time.perf_counter()
        # One deadline for all of them, waited for together: a slow challenger must not
        # use up the time of the ones that are done.
        deadline = min(run.started for run in runs) + self.wait_seconds
        pending = [run.future for run in runs if not run.future.done()]
        if pending:
            wrapped = [asyncio.wrap_future(future) for future in pending]
            for future in wrapped:
                # A late one may still fail after we stopped waiting; it was counted as
                # late, and its error must not be logged by asyncio as never retrieved.
                future.add_done_callback(_retrieve)
            await asyncio.wait(wrapped, timeout=max(deadline - time.perf_counter(), 0.0))
        self.metrics.shadow_wait.observe(time.perf_counter() - waited)
        out = []
        for run in runs:
            version = run.model.ref.version
            if not run.future.done():
                self.metrics.shadow_skipped.labels(version=version, reason="late").inc()
                continue
            error = run.future.exception()
            if error is not None:  # a broken challenger is reported, never raised
                self.metrics.shadow_skipped.labels(version=version, reason="error").inc()
                log.warning(
                    "shadow_failed", version=version, error=f"{type(error).__name__}: {error}"[:300]
                )
                continue
            out.append((run.model, run.future.result()))
        return out

    async def on_stop(self) -> None:
        for executor in self._executors.values():
            executor.shutdown(wait=False, cancel_futures=True)


def _retrieve(future: asyncio.Future[list[RowOutput]]) -> None:
    if not future.cancelled():
        future.exception()

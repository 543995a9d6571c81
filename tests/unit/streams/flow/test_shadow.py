"""Challengers in shadow: a slow, failing or busy challenger never holds a batch past the
budget and never raises into the champion's path."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time

import numpy as np
import pandas as pd
import pytest

from schemas import ModelRef
from schemas.features import NEW_TEAM, model_rows
from streams.flow.shadow import QUEUED_BATCHES, ShadowRunner
from streams.live.model_server import ServingModel
from streams.metrics import Metrics

FRAME = model_rows([NEW_TEAM] * 2, [NEW_TEAM] * 2, [False] * 2, ["Friendly"] * 2)


class Predictor:
    def __init__(self, behaviour: str = "ok", release: threading.Event | None = None) -> None:
        self.behaviour = behaviour
        self.release = release
        self.calls = 0

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls += 1
        if self.behaviour == "raise":
            raise RuntimeError("challenger broke")
        if self.behaviour == "slow":
            assert self.release is not None
            self.release.wait(10)
        return np.tile([0.5, 0.3, 0.2], (len(frame), 1))


def challenger(version: str, predictor: Predictor) -> ServingModel:
    ref = ModelRef(name="soccer_clf", version=version, alias="challenger", run_id=None)
    return ServingModel(ref=ref, predictor=predictor, loaded_at=dt.datetime.now(dt.UTC))


def skipped(metrics: Metrics, version: str, reason: str) -> float:
    value = metrics.registry.get_sample_value(
        "soccer_shadow_skipped_total", {"version": version, "reason": reason}
    )
    return value or 0.0


async def test_a_fast_challenger_answers_the_batch() -> None:
    runner = ShadowRunner(Metrics(), wait_seconds=5.0)
    runs = runner.begin({"challenger": challenger("2", Predictor())}, FRAME)
    [(model, outputs)] = await runner.finish(runs)
    assert model.ref.version == "2" and [o.probabilities.shape for o in outputs] == [(3,)] * 2
    await runner.on_stop()


async def test_a_failing_challenger_is_counted_not_raised() -> None:
    metrics = Metrics()
    runner = ShadowRunner(metrics, wait_seconds=5.0)
    runs = runner.begin({"challenger": challenger("3", Predictor("raise"))}, FRAME)
    assert await runner.finish(runs) == []
    assert skipped(metrics, "3", "error") == 1
    await runner.on_stop()


async def test_batches_queue_behind_a_busy_challenger_up_to_a_bound_then_are_skipped() -> None:
    metrics = Metrics()
    release = threading.Event()
    slow = Predictor("slow", release)
    runner = ShadowRunner(metrics, wait_seconds=0.05)
    models = {"challenger": challenger("4", slow)}
    started = time.perf_counter()
    [first] = runner.begin(models, FRAME)
    assert await runner.finish([first]) == []
    assert time.perf_counter() - started < 1.0, "the batch waited past the budget"
    assert skipped(metrics, "4", "late") == 1

    # Busy with the first batch: the next ones queue behind it, up to the bound.
    queued = [run for _ in range(QUEUED_BATCHES - 1) for run in runner.begin(models, FRAME)]
    assert len(queued) == QUEUED_BATCHES - 1 and skipped(metrics, "4", "busy") == 0
    assert runner.begin(models, FRAME) == [], "past the bound a batch is skipped"
    assert skipped(metrics, "4", "busy") == 1
    release.set()
    for run in queued:  # each queued batch is answered once the thread reaches it
        assert len(await asyncio.wrap_future(run.future)) == 2
    assert slow.calls == QUEUED_BATCHES
    assert len(runner.begin(models, FRAME)) == 1, "free again once it caught up"
    await runner.on_stop()


@pytest.mark.parametrize("behaviour", ["raise", "slow"])
async def test_one_bad_challenger_does_not_hide_a_good_one(behaviour: str) -> None:
    release = threading.Event()
    runner = ShadowRunner(Metrics(), wait_seconds=0.05)
    models = {
        "bad": challenger("5", Predictor(behaviour, release)),
        "good": challenger("6", Predictor()),
    }
    answered = await runner.finish(runner.begin(models, FRAME))
    assert [model.ref.version for model, _ in answered] == ["6"]
    release.set()
    await runner.on_stop()

"""One vectorised predict call per batch, off the event loop, with poison-row isolation,
and the ``Prediction`` records made from its output."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import numpy as np

from schemas import Livescore, ModelRef, Prediction
from schemas.features import ModelInput
from streams.flow.enrich import Job
from streams.live.model_source import Predictor, predict
from streams.metrics import Metrics

RowResult = np.ndarray | Exception


def predict_rows(predictor: Predictor, inputs: ModelInput) -> np.ndarray:
    """(N, 3) probabilities for the rows; ValueError for output of another shape."""
    probabilities = np.asarray(predict(predictor, inputs), dtype="float64")
    if probabilities.shape != (len(inputs), 3):
        raise ValueError(f"model returned shape {probabilities.shape} for {len(inputs)} rows")
    return probabilities


#: Up to this many rows the model runs on the event loop itself: a thread hop and the GIL
#: hand-over cost more than a predict that small.
INLINE_ROWS = 8


async def _predict(predictor: Predictor, inputs: ModelInput) -> np.ndarray:
    if len(inputs) <= INLINE_ROWS:
        return predict_rows(predictor, inputs)
    return await asyncio.to_thread(predict_rows, predictor, inputs)


async def infer(predictor: Predictor, inputs: ModelInput, metrics: Metrics) -> list[RowResult]:
    """Probabilities per row, or the exception for rows the model could not score.

    A failing batch is retried row by row, so one poison row becomes one ``model_error``
    dead letter instead of failing the events around it. A large batch is predicted in a
    thread, so the event loop keeps delivering and acknowledging meanwhile.
    """
    started = time.perf_counter()
    try:
        return list(await _predict(predictor, inputs))
    except Exception as exc:
        if len(inputs) == 1:
            return [exc]
    finally:
        metrics.inference.observe(time.perf_counter() - started)
    results: list[RowResult] = []
    for i in range(len(inputs)):
        try:
            results.append((await _predict(predictor, inputs.take([i])))[0])
        except Exception as exc:
            results.append(exc)
    return results


def prediction_for(
    job: Job,
    probabilities: np.ndarray,
    ref: ModelRef,
    features_version: str,
    read_at: dt.datetime,
) -> Prediction:
    """The ``predictions`` record answering ``job``; raises ValueError for unusable output."""
    if isinstance(job.record, Livescore):
        return Prediction.for_livescore(
            job.record, probabilities, model=ref, features_version=features_version
        )
    return Prediction.for_request(
        job.record,
        probabilities,
        model=ref,
        features_version=features_version,
        received_at=read_at,
        state=job.state,
    )

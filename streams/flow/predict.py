"""One vectorised predict call per batch, off the event loop, with poison-row isolation,
and the ``Prediction`` records made from its output (with the goal forecasts, computed for
the whole batch at once, when the model gives goals to come)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from typing import Final

import numpy as np

from schemas import OUTCOMES, Livescore, ModelRef, Prediction
from schemas.features import NUMERIC_INPUT_COLUMNS, ModelInput
from schemas.prediction import GoalForecastRow
from streams.flow.enrich import Job
from streams.live.goal_forecasts import final_score, forecast_rows
from streams.live.model_source import Predictor, predict_with_goals
from streams.metrics import Metrics

#: Where the current score sits in a row of the model's numeric input.
_SCORE: Final = [NUMERIC_INPUT_COLUMNS.index(c) for c in ("home_goals", "away_goals")]


@dataclass(frozen=True, slots=True)
class RowOutput:
    """What the model said about one row: probabilities in ``OUTCOMES`` order, and the
    goal forecasts when the model forecasts goals."""

    probabilities: np.ndarray
    goals: GoalForecastRow | None = None


RowResult = RowOutput | Exception


def predict_rows(predictor: Predictor, inputs: ModelInput) -> list[RowOutput]:
    """The model's output for every row; ValueError for output of another shape.

    The goal forecasts (scorelines, over 2.5) are computed for the whole batch in one
    vectorised pass over the goals to come, never row by row.
    """
    probabilities, to_come = predict_with_goals(predictor, inputs)
    probabilities = np.asarray(probabilities, dtype="float64")
    if probabilities.shape != (len(inputs), 3):
        raise ValueError(f"model returned shape {probabilities.shape} for {len(inputs)} rows")
    if to_come is None:
        return [RowOutput(row) for row in probabilities]
    if np.shape(to_come) != (len(inputs), 2):
        raise ValueError(f"model returned goals of shape {np.shape(to_come)}")
    goals = forecast_rows(to_come, inputs.numbers[:, _SCORE])
    return [RowOutput(p, g) for p, g in zip(probabilities, goals, strict=True)]


#: Up to this many rows the model runs on the event loop itself: a thread hop and the GIL
#: hand-over cost more than a predict that small.
INLINE_ROWS = 8


async def _predict(predictor: Predictor, inputs: ModelInput) -> list[RowOutput]:
    if len(inputs) <= INLINE_ROWS:
        return predict_rows(predictor, inputs)
    return await asyncio.to_thread(predict_rows, predictor, inputs)


async def infer(predictor: Predictor, inputs: ModelInput, metrics: Metrics) -> list[RowResult]:
    """The model's output per row, or the exception for rows the model could not score.

    A failing batch is retried row by row, so one poison row becomes one ``model_error``
    dead letter instead of failing the events around it. A large batch is predicted in a
    thread, so the event loop keeps delivering and acknowledging meanwhile.
    """
    started = time.perf_counter()
    try:
        return list(await _predict(predictor, inputs))  # a list of the wider RowResult
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


def final_outcome(home_goals: int, away_goals: int) -> np.ndarray:
    """Probability 1 on the outcome a final score gives, in ``OUTCOMES`` order."""
    certain = np.zeros(len(OUTCOMES))
    certain[0 if home_goals > away_goals else 1 if home_goals == away_goals else 2] = 1.0
    return certain


def known_at_full_time(event: Livescore, output: RowOutput) -> RowOutput:
    """After the final whistle nothing is uncertain: the outcome of the final score gets
    probability 1 (and the scoreline, when the model forecasts goals). A knockout match's
    ``finished`` score is whatever the feed reports as final; a level score is a draw
    (extra time and penalties are not modelled: docs/model.md)."""
    goals = None
    if output.goals is not None:
        goals = final_score(event.home_goals, event.away_goals)
    return RowOutput(final_outcome(event.home_goals, event.away_goals), goals)


def prediction_for(
    job: Job,
    output: RowOutput,
    ref: ModelRef,
    features_version: str,
    read_at: dt.datetime,
) -> Prediction:
    """The ``predictions`` record answering ``job``; raises ValueError for unusable output."""
    if job.state is not None and job.state.status == "finished":
        # A request after the final whistle gets the certainty the whistle's own
        # prediction got: the two are predictions of the same state.
        output = known_at_full_time(job.state, output)
    if isinstance(job.record, Livescore):
        return Prediction.for_livescore(
            job.record,
            output.probabilities,
            model=ref,
            features_version=features_version,
            goals=output.goals,
        )
    return Prediction.for_request(
        job.record,
        output.probabilities,
        model=ref,
        features_version=features_version,
        received_at=read_at,
        state=job.state,
        goals=output.goals,
    )

"""One predict per batch, with poison rows isolated; goal forecasts per batch; a finished
match certain of its final score."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pandas as pd
import pytest

from schemas import Livescore
from schemas.features import NEW_TEAM, NUMERIC_INPUT_COLUMNS, ModelInput, model_rows
from streams.flow.enrich import Job
from streams.flow.predict import RowOutput, infer, prediction_for
from streams.metrics import Metrics
from tests.factories import READ_AT, livescore, model_ref, raw, request


class PoisonOnMinute:
    """Scores every row but raises for any batch holding a row at minute 99."""

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if (frame["minute"] == 99).any():
            raise ValueError("poison row")
        return np.tile([0.5, 0.3, 0.2], (len(frame), 1))


def rows_at(*minutes: int) -> ModelInput:
    """Pre-match rows between new teams, at the given minutes."""
    n = len(minutes)
    states = [[m, 0, 0, 0, 0] for m in minutes]
    return model_rows([NEW_TEAM] * n, [NEW_TEAM] * n, [False] * n, ["Friendly"] * n, states)


def test_one_poison_row_fails_alone() -> None:
    results = asyncio.run(infer(PoisonOnMinute(), rows_at(1, 99, 3), Metrics()))
    assert isinstance(results[1], ValueError)
    scored = [r.probabilities.tolist() for i, r in enumerate(results) if i != 1]
    assert scored == [[0.5, 0.3, 0.2]] * 2


def test_wrong_output_shape_is_an_error() -> None:
    class TwoColumns:
        def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
            return np.ones((len(frame), 2)) / 2

    results = asyncio.run(infer(TwoColumns(), rows_at(1), Metrics()))
    assert isinstance(results[0], ValueError)


class GoalsModel:
    """Fixed probabilities, and 1.2 home / 0.3 away goals still to come on every row."""

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.tile([0.5, 0.3, 0.2], (len(frame), 1))

    def predict_with_goals(self, inputs: ModelInput) -> tuple[np.ndarray, np.ndarray]:
        return np.tile([0.5, 0.3, 0.2], (len(inputs), 1)), np.tile([1.2, 0.3], (len(inputs), 1))


def job_for(event: Livescore) -> Job:
    return Job(raw(b"{}"), event, event)


def test_goal_forecasts_start_from_each_rows_own_score() -> None:
    inputs = rows_at(0, 80)
    inputs.numbers[1, NUMERIC_INPUT_COLUMNS.index("home_goals")] = 2.0
    kickoff, late = asyncio.run(infer(GoalsModel(), inputs, Metrics()))
    assert isinstance(kickoff, RowOutput) and isinstance(late, RowOutput)
    assert kickoff.goals is not None and late.goals is not None
    assert (kickoff.goals.expected_home, kickoff.goals.expected_away) == pytest.approx((1.2, 0.3))
    assert (late.goals.expected_home, late.goals.expected_away) == pytest.approx((3.2, 0.3))
    # From 2-0: one more home goal and none away, 1.2 e^-1.2 e^-0.3 = 0.2678, is likelier
    # than no goal at all, e^-1.5 = 0.2231.
    assert late.goals.scorelines[:2] == (
        (3, 0, pytest.approx(1.2 * math.exp(-1.5))),
        (2, 0, pytest.approx(math.exp(-1.5))),
    )


def test_a_model_without_goals_gives_none() -> None:
    [output] = asyncio.run(infer(PoisonOnMinute(), rows_at(1), Metrics()))
    assert isinstance(output, RowOutput) and output.goals is None


@pytest.mark.parametrize(
    ("home", "away", "certain"), [(2, 1, "home"), (1, 1, "draw"), (0, 3, "away")]
)
def test_a_finished_match_is_certain_of_its_final_score(home: int, away: int, certain: str) -> None:
    event = livescore(status="finished", minute=90, home_goals=home, away_goals=away)
    output = RowOutput(np.array([0.02, 0.96, 0.02]), None)
    made = prediction_for(job_for(event), output, model_ref(), "v+0", READ_AT)
    assert made.probabilities.of(certain) == 1.0 and made.predicted == certain
    assert made.expected_goals is None  # the model forecast no goals: none are invented

    [goals_output] = asyncio.run(infer(GoalsModel(), rows_at(90), Metrics()))
    assert isinstance(goals_output, RowOutput)
    made = prediction_for(job_for(event), goals_output, model_ref(), "v+0", READ_AT)
    assert made.scorelines is not None and made.expected_goals is not None
    assert (made.scorelines[0].home, made.scorelines[0].away) == (home, away)
    assert made.scorelines[0].probability == 1.0
    assert made.over_2_5 == (1.0 if home + away >= 3 else 0.0)


def test_a_live_match_is_not_made_certain() -> None:
    event = livescore(status="live", minute=89, home_goals=1, away_goals=0)
    output = RowOutput(np.array([0.9, 0.08, 0.02]), None)
    made = prediction_for(job_for(event), output, model_ref(), "v+0", READ_AT)
    assert made.probabilities.home == pytest.approx(0.9)


def test_a_request_after_the_final_whistle_is_as_certain_as_the_whistle() -> None:
    state = livescore(status="finished", minute=90, home_goals=0, away_goals=2)
    job = Job(raw=raw(b"{}", topic="match-requests"), record=request(), state=state)
    made = prediction_for(
        job, RowOutput(np.array([0.3, 0.3, 0.4]), None), model_ref(), "v+0", READ_AT
    )
    assert made.trigger == "request" and made.probabilities.away == 1.0
    assert made.probabilities.home == 0.0 and made.probabilities.draw == 0.0

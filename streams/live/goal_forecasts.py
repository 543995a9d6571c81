"""A batch's goal forecasts (scorelines, over 2.5, expected goals) from the goals its model
expects still to come: ``models.scorelines`` reached from ``streams.live``, since the flow
never imports ``models``."""

from __future__ import annotations

import numpy as np

from models.scorelines import GoalForecasts, goal_forecasts
from schemas.prediction import GoalForecastRow


def forecast_rows(to_come: np.ndarray, scored: np.ndarray) -> list[GoalForecastRow]:
    """One row of forecasts per prediction, from (N, 2) goals to come and (N, 2) scores
    (the model input's float columns: a missing score is none yet, as the model reads it),
    computed for the whole batch in one vectorised pass."""
    goals = np.nan_to_num(scored, nan=0.0).astype(np.int64)
    return goal_forecasts(to_come, goals).rows()


def final_score(home_goals: int, away_goals: int) -> GoalForecastRow:
    """The forecasts of a match whose final score is known: that score, with probability 1."""
    return GoalForecasts.certain([[home_goals, away_goals]]).row(0)

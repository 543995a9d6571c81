"""Per-forecast scores, checked against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.scoring import forecast_scores


def test_scores_of_one_forecast_by_hand() -> None:
    # P = (0.5, 0.3, 0.2), the away side won.
    scores = forecast_scores([[0.5, 0.3, 0.2]], [2])
    assert scores.log_loss[0] == pytest.approx(-math.log(0.2))
    assert scores.brier[0] == pytest.approx(0.5**2 + 0.3**2 + 0.8**2)
    # Cumulative: home 0.5 vs 0, home+draw 0.8 vs 0 -> (0.25 + 0.64) / 2.
    assert scores.rps[0] == pytest.approx((0.25 + 0.64) / 2)


def test_perfect_and_worst_forecasts_bound_the_scores() -> None:
    scores = forecast_scores([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], [0, 2])
    assert scores.brier.tolist() == pytest.approx([0.0, 2.0])
    assert scores.rps.tolist() == pytest.approx([0.0, 1.0])
    assert scores.log_loss[0] == pytest.approx(0.0) and np.isfinite(scores.log_loss[1])


def test_rps_rewards_being_near_in_order() -> None:
    # Home won: a forecast leaning draw beats one leaning away, though both give home 0.2.
    near, far = forecast_scores([[0.2, 0.6, 0.2], [0.2, 0.2, 0.6]], [0, 0]).rps
    assert near < far

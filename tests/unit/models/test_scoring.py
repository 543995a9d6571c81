"""Per-forecast scores, checked against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.scoring import (
    CALIBRATION_BINS,
    calibration_bin,
    calibration_sums,
    expected_calibration_error,
    forecast_scores,
)


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


# Four forecasts worked by hand, two per bin for each outcome:
#   (0.15, 0.25, 0.60) home won;  (0.15, 0.25, 0.60) away won;
#   (0.55, 0.25, 0.20) home won;  (0.55, 0.25, 0.20) draw.
# Home: bin 1 holds 0.15, 0.15 (mean 0.15, happened 1 of 2), bin 5 holds 0.55, 0.55
#   (mean 0.55, 1 of 2): ECE_home = 2/4 |0.15 - 0.5| + 2/4 |0.55 - 0.5| = 0.175 + 0.025 = 0.2.
# Draw: bin 2 holds all four 0.25 (1 of 4 happened): ECE_draw = |0.25 - 0.25| = 0.
# Away: bin 6 holds 0.60, 0.60 (1 of 2), bin 2 holds 0.20, 0.20 (0 of 2):
#   ECE_away = 2/4 |0.6 - 0.5| + 2/4 |0.2 - 0| = 0.05 + 0.1 = 0.15.
# ECE = (0.2 + 0 + 0.15) / 3 = 0.35 / 3.
FOUR = [[0.15, 0.25, 0.60], [0.15, 0.25, 0.60], [0.55, 0.25, 0.20], [0.55, 0.25, 0.20]]
FOUR_LABELS = [0, 2, 0, 1]


def test_calibration_sums_of_four_forecasts_by_hand() -> None:
    sums = calibration_sums(FOUR, FOUR_LABELS)
    assert sums.forecasts.shape == (3, CALIBRATION_BINS)
    assert {i: n for i, n in enumerate(sums.forecasts[0]) if n} == {1: 2, 5: 2}
    assert {i: n for i, n in enumerate(sums.forecasts[1]) if n} == {2: 4}
    assert {i: n for i, n in enumerate(sums.forecasts[2]) if n} == {2: 2, 6: 2}
    assert sums.predicted[0, [1, 5]] == pytest.approx([0.3, 1.1])
    assert sums.predicted[1, 2] == pytest.approx(1.0)
    assert sums.predicted[2, [2, 6]] == pytest.approx([0.4, 1.2])
    assert (sums.observed[0, 1], sums.observed[0, 5], sums.observed[1, 2]) == (1, 1, 1)
    assert (sums.observed[2, 6], sums.observed[2, 2]) == (1, 0)


def test_expected_calibration_error_of_four_forecasts_by_hand() -> None:
    ece = expected_calibration_error(calibration_sums(FOUR, FOUR_LABELS))
    assert ece == pytest.approx(0.35 / 3, abs=1e-12)


def test_forecasts_at_the_observed_frequencies_have_no_calibration_error() -> None:
    # Home won 2 of 4, draw 1, away 1: forecasts of exactly those frequencies.
    ece = expected_calibration_error(calibration_sums([[0.5, 0.25, 0.25]] * 4, [0, 0, 1, 2]))
    assert ece == pytest.approx(0.0, abs=1e-12)


def test_certain_and_wrong_forecasts_have_the_largest_error() -> None:
    # Home 1.0 (bin 9, closed at 1) and it never happened; draw and away 0 and one of them
    # always happened: ECE_home = 1, ECE_draw = ECE_away = |0 - 1/2| = 0.5; mean 2/3.
    ece = expected_calibration_error(calibration_sums([[1.0, 0.0, 0.0]] * 2, [1, 2]))
    assert ece == pytest.approx(2 / 3, abs=1e-12)


@pytest.mark.parametrize(
    ("p", "expected"),
    [(0.0, 0), (0.0999, 0), (0.1, 1), (0.3, 3), (0.6, 6), (0.7, 7), (0.95, 9), (1.0, 9)],
)
def test_bins_are_tenths_with_the_last_closed_at_one(p: float, expected: int) -> None:
    assert int(calibration_bin(p)) == expected


def test_no_forecasts_have_no_calibration_error() -> None:
    assert expected_calibration_error(calibration_sums(np.empty((0, 3)), [])) is None

"""Goal ratings, with the numbers worked by hand from the formulas in the module docstring."""

from __future__ import annotations

import math

import pytest

from models.features import Result, TeamState, apply_result
from models.goal_ratings import BOUND, goal_rates, rating_updates, step_size


def test_equal_teams_expect_the_base_rate_and_the_home_side_more() -> None:
    zero = [0.0, 0.0]
    home, away = goal_rates(zero, zero, zero, zero, [1.0, 0.0])
    assert home == pytest.approx([1.3, 1.3 * math.exp(0.25)])
    assert away == pytest.approx([1.3, 1.3])


def test_a_new_teams_step_is_four_times_an_old_ones() -> None:
    # 0.035 * (1 + 3 / (1 + 0 / 10)) = 0.14; after 1,000 matches 0.035 * (1 + 3 / 101).
    assert step_size(0) == pytest.approx(0.14)
    assert step_size(1000) == pytest.approx(0.035 * (1 + 3 / 101))


def test_a_two_nil_win_on_neutral_ground_between_new_teams() -> None:
    # Both expect 1.3 goals: home surprise 2 - 1.3 = 0.7, away surprise 0 - 1.3 = -1.3;
    # each side steps 0.14 per goal of surprise.
    (home_attack, home_defence), (away_attack, away_defence) = rating_updates(
        (0.0, 0.0, 0), (0.0, 0.0, 0), 2, 0, neutral=True
    )
    assert home_attack == pytest.approx(0.14 * 0.7)
    assert home_defence == pytest.approx(0.14 * 1.3)
    assert away_attack == pytest.approx(-0.14 * 1.3)
    assert away_defence == pytest.approx(-0.14 * 0.7)


def test_ratings_stay_bounded_whatever_the_score() -> None:
    # 0.14 * (99 - 1.3) would move them by 13.7.
    (attack, _), (_, defence) = rating_updates((0.0, 0.0, 0), (0.0, 0.0, 0), 99, 0, True)
    assert attack == BOUND and defence == -BOUND


def test_apply_result_moves_the_goal_ratings_it_reports_as_features() -> None:
    teams: dict[str, TeamState] = {}
    apply_result(teams, Result("A", "B", 2, 0, neutral=True, tournament="Friendly"))
    assert teams["A"].features()[-2:] == pytest.approx((0.14 * 0.7, 0.14 * 1.3))
    assert teams["B"].features()[-2:] == pytest.approx((-0.14 * 1.3, -0.14 * 0.7))
    # The copy the stream folds from carries them too.
    assert teams["A"].copy().features() == teams["A"].features()

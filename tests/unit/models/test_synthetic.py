"""Unit tests of the synthetic history's generator: the score model against penaltyblog's
Dixon-Coles, the draw of scores from it, the goal difference the rating gap makes, and the
fixtures and luck that stay put when the constants change (what the scale's fit needs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from penaltyblog.models.probabilities import compute_dixon_coles_probabilities

from models.synthetic import (
    CONFEDERATIONS,
    MAX_GOALS,
    OTHER_RATINGS,
    SCALE,
    TEAM_RATINGS,
    TEAMS,
    draw_scores,
    generate_matches,
    generate_results,
    score_grid,
    strength_half,
)

GRID = MAX_GOALS + 1


def penaltyblog_grid(home_rate: float, away_rate: float, rho: float) -> np.ndarray:
    """penaltyblog's own Dixon-Coles score matrix for these rates (its fitted models' code
    path: attack = log rate, no defence or home term), normalised over the same goals."""
    matrix = np.empty(GRID * GRID)
    lambda_home, lambda_away = np.empty(1), np.empty(1)
    compute_dixon_coles_probabilities(
        float(np.log(home_rate)),
        float(np.log(away_rate)),
        0.0,
        0.0,
        0.0,
        rho,
        GRID,
        matrix,
        lambda_home,
        lambda_away,
    )
    assert lambda_home[0] == pytest.approx(home_rate) and lambda_away[0] == pytest.approx(away_rate)
    return matrix.reshape(GRID, GRID) / matrix.sum()


@pytest.mark.parametrize(
    ("home_rate", "away_rate", "rho"),
    [(1.7, 0.8, -0.1), (1.1, 1.1, 0.0), (0.6, 2.4, -0.2), (3.0, 0.3, -0.05)],
)
def test_score_grid_is_penaltyblogs_dixon_coles(
    home_rate: float, away_rate: float, rho: float
) -> None:
    ours = score_grid(np.array([[home_rate, away_rate]]), rho)[0]
    np.testing.assert_allclose(ours, penaltyblog_grid(home_rate, away_rate, rho), atol=1e-12)


def test_scores_drawn_on_a_lattice_of_uniforms_have_the_grids_frequencies() -> None:
    # N x N uniforms at cell centres: each score's share may differ from its probability by
    # at most the lattice step (one row of the lattice) on each of the two inversions.
    n = 400
    centres = (np.arange(n) + 0.5) / n
    luck = np.column_stack([np.repeat(centres, n), np.tile(centres, n)])
    rates = np.tile([1.7, 0.8], (n * n, 1))
    scores = draw_scores(rates, -0.1, luck)
    counts = np.zeros((GRID, GRID))
    np.add.at(counts, (scores[:, 0], scores[:, 1]), 1)
    np.testing.assert_allclose(counts / (n * n), penaltyblog_grid(1.7, 0.8, -0.1), atol=2 / n)


def test_a_higher_home_rate_never_lowers_a_home_score_drawn_with_the_same_luck() -> None:
    # What lets the fit compare two scales on the same luck: each score moves one way.
    rng = np.random.default_rng(5)
    luck = rng.random((5000, 2))
    away = rng.uniform(0.3, 2.5, 5000)
    home = rng.uniform(0.3, 2.5, 5000)
    before = draw_scores(np.column_stack([home, away]), -0.1, luck)
    after = draw_scores(np.column_stack([home * 1.05, away]), -0.1, luck)
    assert (after[:, 0] >= before[:, 0]).all()
    assert (after[:, 0] > before[:, 0]).any()


@pytest.mark.parametrize(("gap", "expected"), [(200.0, 0.88), (-500.0, -2.2), (0.0, 0.0)])
def test_the_expected_goal_difference_grows_in_proportion_to_the_gap(
    gap: float, expected: float
) -> None:
    # 1.1 goals a side, 250 points a scale: 1.1 * gap / 250 goals of difference, by hand.
    half = strength_half(np.array([gap]), 250.0)
    difference = 1.1 * np.exp(half) - 1.1 * np.exp(-half)
    assert difference[0] == pytest.approx(expected)


def test_every_side_has_one_confederation_and_one_starting_rating() -> None:
    assert len(TEAMS) == len(set(TEAMS)) == sum(len(g) for g in CONFEDERATIONS.values())
    assert set(TEAM_RATINGS) <= set(TEAMS)
    assert set(OTHER_RATINGS) == set(TEAMS) - set(TEAM_RATINGS)


def test_other_goal_constants_keep_the_calendar_and_move_scores_one_way() -> None:
    more_home = SCALE.model_copy(
        update={"base_goals": SCALE.base_goals * 1.1, "home_advantage": SCALE.home_advantage + 0.2}
    )
    before, after = generate_results(1500, 3), generate_results(1500, 3, more_home)
    fixture = ["date", "home_team", "away_team", "tournament", "neutral"]
    pd.testing.assert_frame_equal(before[fixture], after[fixture])
    # Every home rate rose (x1.1, and x1.1 * e^0.1 on a home ground). Dixon and Coles keep
    # each side's Poisson marginal, so a home score is that marginal's inverse CDF at its
    # luck: the same luck gives each home side as many goals or more.
    assert (after["home_score"] >= before["home_score"]).all()
    assert after["home_score"].sum() > before["home_score"].sum()


def test_the_results_are_those_of_the_matches_with_goals() -> None:
    results = generate_results(500, 11)
    data = generate_matches(500, 11)
    pd.testing.assert_frame_equal(results, data.results)
    assert len(data.goals) == int((results["home_score"] + results["away_score"]).sum())

"""World Football Elo ratings (eloratings.net), the backbone of the pre-match features.

After each match the home side gains ``K * G * (W - We)`` points and the away side loses
as many, where ``K`` is the tournament weight (:mod:`models.tournaments`), ``G`` grows with
the goal difference, ``W`` is 1/0.5/0 for a win/draw/loss and ``We`` the expected result
given the rating gap plus ``HOME_ADVANTAGE`` for a side playing at home.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from schemas.features import NEW_TEAM_FEATURES

INITIAL_RATING: Final = NEW_TEAM_FEATURES["elo"]
HOME_ADVANTAGE: Final = 100.0
SCALE: Final = 400.0


def rating_gap(
    home_elo: npt.ArrayLike, away_elo: npt.ArrayLike, neutral: npt.ArrayLike
) -> np.ndarray:
    """Home minus away rating, with the home advantage unless the venue is neutral."""
    neutral = np.asarray(neutral, dtype=np.float64)
    return (
        np.asarray(home_elo, np.float64)
        - np.asarray(away_elo, np.float64)
        + HOME_ADVANTAGE * (1.0 - neutral)
    )


def expected_score(gap: npt.ArrayLike) -> np.ndarray:
    """The home side's expected result (win = 1, draw = 0.5) for a rating gap."""
    return 1.0 / (1.0 + np.power(10.0, -np.asarray(gap, dtype=np.float64) / SCALE))


def goal_multiplier(goal_difference: int) -> float:
    """``G``: 1 for a draw or a one-goal win, 1.5 for two, (11 + n) / 8 for n >= 3."""
    n = abs(goal_difference)
    if n <= 1:
        return 1.0
    if n == 2:
        return 1.5
    return (11.0 + n) / 8.0


def rating_change(
    home_elo: float,
    away_elo: float,
    home_score: int,
    away_score: int,
    neutral: bool,
    weight: float,
) -> float:
    """Points the home side gains (the away side loses as many)."""
    result = 1.0 if home_score > away_score else 0.5 if home_score == away_score else 0.0
    gap = home_elo - away_elo + (0.0 if neutral else HOME_ADVANTAGE)
    expected = 1.0 / (1.0 + 10.0 ** (-gap / SCALE))
    return weight * goal_multiplier(home_score - away_score) * (result - expected)

"""Goal ratings: each team's attack and defence, learned online from the scores it plays.

A match's expected goals are Poisson means on the log scale (Maher's model, the core of
Dixon-Coles)::

    log rate_home = BASE + HOME * (not neutral) + attack_home - defence_away
    log rate_away = BASE + attack_away - defence_home

Instead of refitting every team's parameters on a window of past matches, each result
moves the four ratings involved one step along the gradient of that match's Poisson
log-likelihood (goals scored minus the rate expected): the ratings follow the stream, one
result at a time, the same way in training and serving (:func:`models.features.apply_result`).
Old results fade as newer steps overwrite them, which plays the part of Dixon-Coles' time
decay. A team's step is larger while it has few matches behind it, so a newcomer's ratings
converge in a handful of matches rather than dozens.

The constants were chosen on matches before 2021 and checked on 2021-2022, never on the
2023-24 holdout; ``docs/model.md`` has the comparison.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

#: log of the goals per side between equal teams on neutral ground (international average).
BASE: Final = math.log(1.3)
#: log of the home side's goal factor when not on neutral ground.
HOME: Final = 0.25
#: Step size per goal of surprise for an established team.
STEP: Final = 0.035
#: A team with no match behind it steps (1 + NEW_TEAM_BOOST) times as far; the extra fades
#: as 1 / (1 + matches played / BOOST_MATCHES).
NEW_TEAM_BOOST: Final = 3.0
BOOST_MATCHES: Final = 10.0
#: Ratings stay within +-BOUND (a factor of e^4 ~ 55 in goals): far beyond any real team,
#: and it keeps the exponentials finite whatever a feed sends.
BOUND: Final = 4.0


def goal_rates(
    home_attack: npt.ArrayLike,
    home_defence: npt.ArrayLike,
    away_attack: npt.ArrayLike,
    away_defence: npt.ArrayLike,
    neutral: npt.ArrayLike,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected goals of each side over a full match (vectorised)."""
    home_edge = HOME * (1.0 - np.asarray(neutral, dtype=np.float64))
    log_home = BASE + home_edge + np.asarray(home_attack) - np.asarray(away_defence)
    log_away = BASE + np.asarray(away_attack) - np.asarray(home_defence)
    return np.exp(log_home), np.exp(log_away)


def step_size(matches_played: float) -> float:
    """How far one goal of surprise moves a team that has played this many matches."""
    return STEP * (1.0 + NEW_TEAM_BOOST / (1.0 + matches_played / BOOST_MATCHES))


def _bounded(value: float) -> float:
    return min(max(value, -BOUND), BOUND)


def rating_updates(
    home: tuple[float, float, float],
    away: tuple[float, float, float],
    home_score: int,
    away_score: int,
    neutral: bool,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """New (attack, defence) of each side after a result.

    ``home`` and ``away`` are (attack, defence, matches played) before the match. The home
    side's attack and the away side's defence move by the home goals' surprise (goals minus
    the rate expected), each scaled by its own team's step; the same for the other pair.
    """
    home_attack, home_defence, home_played = home
    away_attack, away_defence, away_played = away
    log_home = BASE + (0.0 if neutral else HOME) + home_attack - away_defence
    log_away = BASE + away_attack - home_defence
    home_surprise = home_score - math.exp(log_home)
    away_surprise = away_score - math.exp(log_away)
    home_step, away_step = step_size(home_played), step_size(away_played)
    return (
        (
            _bounded(home_attack + home_step * home_surprise),
            _bounded(home_defence - home_step * away_surprise),
        ),
        (
            _bounded(away_attack + away_step * away_surprise),
            _bounded(away_defence - away_step * home_surprise),
        ),
    )

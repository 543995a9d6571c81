"""A seeded synthetic match history in the ``international_results`` frame format.

For the demo and the tests, which must not depend on the real data. Teams have a hidden
strength that drifts slowly (the sides of :data:`TEAM_RATINGS` start from their ratings,
the others from a random draw), goals are Poisson with a home advantage unless the venue is
neutral, goal minutes are uniform over the 90 minutes, and the mix of tournaments and
venues looks like the real calendar. The same ``(n_matches, seed)`` always gives the same
frames, on any machine.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from models.data import GOAL_COLUMNS, RESULT_COLUMNS, MatchData

CONFEDERATIONS: Final[dict[str, tuple[str, ...]]] = {
    region: tuple(names.split(", "))
    for region, names in {
        "UEFA": "Germany, France, Spain, England, Italy, Netherlands, Portugal, Belgium, "
        "Croatia, Denmark, Switzerland, Scotland, Poland, Sweden, Norway, Austria, Serbia, "
        "Wales, Czech Republic, Ukraine",
        "CONMEBOL": "Brazil, Argentina, Uruguay, Colombia, Chile, Ecuador, Peru, Paraguay, "
        "Venezuela, Bolivia",
        "CAF": "Morocco, Senegal, Nigeria, Egypt, Ivory Coast, Cameroon, Ghana, Algeria, "
        "Tunisia, Mali",
        "AFC": "Japan, South Korea, Iran, Australia, Saudi Arabia, Qatar, Iraq, Uzbekistan, "
        "China PR, India",
        "CONCACAF": "Mexico, United States, Canada, Costa Rica, Panama, Jamaica, Honduras, "
        "El Salvador, Haiti, Curaçao",
    }.items()
}
CONTINENTAL: Final[dict[str, str]] = {
    "UEFA": "UEFA Euro",
    "CONMEBOL": "Copa América",
    "CAF": "African Cup of Nations",
    "AFC": "AFC Asian Cup",
    "CONCACAF": "Gold Cup",
}
# (kind, share of matches): roughly the real calendar since 2000.
_KINDS: Final = (
    ("Friendly", 0.42),
    ("FIFA World Cup qualification", 0.24),
    ("continental qualification", 0.13),
    ("continental", 0.07),
    ("FIFA World Cup", 0.05),
    ("UEFA Nations League", 0.05),
    ("other", 0.04),
)
_OTHER_TOURNAMENTS: Final = ("King's Cup", "Kirin Cup", "Gulf Cup", "COSAFA Cup")

#: Approximate Elo-like strengths of 32 well-known sides, chosen by hand for the demo
#: (devstack/tournament.py plays its World Cup with them). The synthetic history starts
#: these teams from them, so a model trained on it rates them in this order.
TEAM_RATINGS: Final[dict[str, float]] = {
    "Argentina": 2140.0,
    "Brazil": 2120.0,
    "France": 2100.0,
    "Spain": 2080.0,
    "England": 2040.0,
    "Portugal": 2010.0,
    "Netherlands": 2000.0,
    "Belgium": 1980.0,
    "Germany": 1970.0,
    "Italy": 1960.0,
    "Croatia": 1950.0,
    "Colombia": 1945.0,
    "Uruguay": 1930.0,
    "Denmark": 1885.0,
    "Japan": 1880.0,
    "Switzerland": 1870.0,
    "Morocco": 1865.0,
    "Ecuador": 1860.0,
    "Mexico": 1825.0,
    "Serbia": 1820.0,
    "United States": 1810.0,
    "Iran": 1805.0,
    "Senegal": 1800.0,
    "Poland": 1790.0,
    "South Korea": 1780.0,
    "Australia": 1765.0,
    "Canada": 1760.0,
    "Ivory Coast": 1740.0,
    "Nigeria": 1730.0,
    "Cameroon": 1705.0,
    "Costa Rica": 1690.0,
    "Saudi Arabia": 1650.0,
}
#: Rating points per unit of hidden strength (a log goal-rate ratio): 300 points apart,
#: the stronger side scores e times as often, about what Elo's odds imply.
RATING_SCALE: Final = 300.0
RATING_CENTRE: Final = 1850.0

START: Final = pd.Timestamp("2000-01-01")
MATCHES_PER_YEAR: Final = 400
BASE_GOALS: Final = 1.25  # goals per side between equal teams on a neutral ground
HOME_ADVANTAGE: Final = 0.25  # log-rate bonus of the home side
OWN_GOAL_RATE: Final = 0.03
PENALTY_RATE: Final = 0.08
UNKNOWN_MINUTE_RATE: Final = 0.005  # the real data lacks the minute of ~0.5% of goals


def _pick_pair(rng: np.random.Generator, pool: np.ndarray, weights: np.ndarray) -> tuple[int, int]:
    p = weights / weights.sum()
    home, away = rng.choice(pool, size=2, replace=False, p=p)
    return int(home), int(away)


def generate_matches(n_matches: int, seed: int = 0) -> MatchData:
    """``n_matches`` synthetic matches from 2000-01-01 on, about 400 a year, with goals."""
    if n_matches < 1:
        raise ValueError("n_matches must be >= 1")
    rng = np.random.default_rng(seed)
    teams = [t for group in CONFEDERATIONS.values() for t in group]
    confed = np.array([c for c, group in CONFEDERATIONS.items() for _ in group])
    n_teams = len(teams)
    strength = rng.normal(0.0, 0.45, size=n_teams)
    for i, team in enumerate(teams):
        if team in TEAM_RATINGS:  # drawn above all the same: the other teams' draws stay
            strength[i] = (TEAM_RATINGS[team] - RATING_CENTRE) / RATING_SCALE

    span_days = max(365, round(365.25 * n_matches / MATCHES_PER_YEAR))
    days = np.sort(rng.integers(0, span_days, size=n_matches))
    kinds = rng.choice(len(_KINDS), size=n_matches, p=[share for _, share in _KINDS])
    everyone = np.arange(n_teams)
    uniform = np.ones(n_teams)

    results: list[tuple[object, ...]] = []
    goals: list[tuple[object, ...]] = []
    last_day = 0
    for day, kind_index in zip(days, kinds, strict=True):
        # Strength drifts like a random walk so form and ratings have something to track.
        strength += rng.normal(0.0, 0.004 * np.sqrt(max(int(day) - last_day, 0)), size=n_teams)
        last_day = int(day)
        kind = _KINDS[kind_index][0]
        neutral = False
        if kind in {"continental qualification", "continental"}:
            region = str(rng.choice(list(CONFEDERATIONS)))
            pool = everyone[confed == region]
            home, away = _pick_pair(rng, pool, np.ones(len(pool)))
            name = CONTINENTAL[region]
            tournament = name if kind == "continental" else f"{name} qualification"
            neutral = kind == "continental" and rng.random() > 0.15
        elif kind == "UEFA Nations League":
            pool = everyone[confed == "UEFA"]
            home, away = _pick_pair(rng, pool, np.ones(len(pool)))
            tournament = kind
        elif kind == "FIFA World Cup":
            # Stronger teams qualify, so finals mostly pit good sides against each other.
            home, away = _pick_pair(rng, everyone, np.exp(2.0 * strength))
            tournament, neutral = kind, rng.random() > 0.1
        elif kind == "FIFA World Cup qualification":
            region = confed[rng.integers(n_teams)]
            pool = everyone[confed == region]
            home, away = _pick_pair(rng, pool, np.ones(len(pool)))
            tournament = kind
        else:
            home, away = _pick_pair(rng, everyone, uniform)
            tournament = kind if kind == "Friendly" else str(rng.choice(_OTHER_TOURNAMENTS))
            neutral = rng.random() < 0.12

        gap = (strength[home] - strength[away]) / 2
        bonus = 0.0 if neutral else HOME_ADVANTAGE
        home_score = int(rng.poisson(BASE_GOALS * np.exp(gap + bonus)))
        away_score = int(rng.poisson(BASE_GOALS * np.exp(-gap)))
        date = START + pd.Timedelta(days=int(day))
        h_name, a_name = teams[home], teams[away]
        country = "" if neutral else h_name
        results.append(
            (date, h_name, a_name, home_score, away_score, tournament, "", country, neutral)
        )

        n_goals = home_score + away_score
        minutes = np.sort(rng.integers(1, 91, size=n_goals)).astype(np.float64)
        minutes[rng.random(n_goals) < UNKNOWN_MINUTE_RATE] = np.nan
        credited = rng.permutation([h_name] * home_score + [a_name] * away_score)
        for minute, team in zip(minutes, credited, strict=True):
            own_goal = bool(rng.random() < OWN_GOAL_RATE)
            penalty = not own_goal and bool(rng.random() < PENALTY_RATE)
            scorer_team = (a_name if team == h_name else h_name) if own_goal else team
            scorer = f"{scorer_team} player {int(rng.integers(1, 24))}"
            goals.append((date, h_name, a_name, str(team), scorer, minute, own_goal, penalty))

    results_frame = pd.DataFrame(results, columns=list(RESULT_COLUMNS))
    goals_frame = pd.DataFrame(goals, columns=list(GOAL_COLUMNS))
    for frame in (results_frame, goals_frame):
        frame["date"] = pd.to_datetime(frame["date"])
    goals_frame["minute"] = goals_frame["minute"].astype(np.float64)
    for column in ("own_goal", "penalty"):
        goals_frame[column] = goals_frame[column].astype(bool)
    return MatchData(results=results_frame, goals=goals_frame)

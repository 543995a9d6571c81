"""A seeded synthetic match history in the ``international_results`` frame format.

For the demo and the tests, which must not depend on the real data. 92 real national sides
(:data:`CONFEDERATIONS`, from Argentina down to San Marino) each have a strength in rating
points that wanders around its starting rating: the demo's 32 World Cup sides start from
their hand-chosen :data:`TEAM_RATINGS` (scaled around their mean), the others from
:data:`OTHER_RATINGS` (their real Elo ratings). A match's goals follow Dixon and Coles'
model (two Poisson counts, the low scores reweighted), with rates set by the rating gap and
the home ground; goal minutes are uniform over the 90 minutes. The mix of tournaments and
venues looks like the real calendar: qualifiers pair any two sides of a confederation,
finals the stronger sides, friendlies mostly sides of a level. How far apart the sides are,
how many goals they score and whom they play (:data:`SCALE`) is fitted to the real data by
:mod:`models.synthetic_scale`; its section in ``docs/model.md`` has the numbers. The same
``(n_matches, seed)`` always gives the same frames, on any machine.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import poisson

from models.data import GOAL_COLUMNS, RESULT_COLUMNS, MatchData

#: The synthetic sides by confederation, under the real data's names: the well-known ones
#: first (those of :data:`TEAM_RATINGS` among them), then smaller ones down to the weakest
#: (San Marino, Sri Lanka, Anguilla), so qualifiers and friendlies have the lopsided matches
#: real ones have.
CONFEDERATIONS: Final[dict[str, tuple[str, ...]]] = {
    region: tuple(names.split(", "))
    for region, names in {
        "UEFA": "Germany, France, Spain, England, Italy, Netherlands, Portugal, Belgium, "
        "Croatia, Denmark, Switzerland, Scotland, Poland, Sweden, Norway, Austria, Serbia, "
        "Wales, Czech Republic, Ukraine, Finland, Iceland, Bulgaria, Luxembourg, Latvia, "
        "Malta, Andorra, San Marino",
        "CONMEBOL": "Brazil, Argentina, Uruguay, Colombia, Chile, Ecuador, Peru, Paraguay, "
        "Venezuela, Bolivia",
        "CAF": "Morocco, Senegal, Nigeria, Egypt, Ivory Coast, Cameroon, Ghana, Algeria, "
        "Tunisia, Mali, Burkina Faso, South Africa, Zambia, Uganda, Kenya, Tanzania, "
        "Lesotho, Seychelles",
        "AFC": "Japan, South Korea, Iran, Australia, Saudi Arabia, Qatar, Iraq, Uzbekistan, "
        "China, India, Jordan, Oman, Vietnam, Thailand, Malaysia, Philippines, Nepal, "
        "Sri Lanka",
        "CONCACAF": "Mexico, United States, Canada, Costa Rica, Panama, Jamaica, Honduras, "
        "El Salvador, Haiti, Curaçao, Guatemala, Trinidad and Tobago, Cuba, Nicaragua, "
        "Guyana, Grenada, Barbados, Anguilla",
    }.items()
}
#: Every synthetic side, confederation by confederation.
TEAMS: Final = tuple(team for group in CONFEDERATIONS.values() for team in group)
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


#: Starting ratings of every other side: the repo's own Elo of the real side at the end of
#: 2022, rounded to 10 points (fitted with :data:`SCALE`; ``python -m models.synthetic_scale``
#: prints them again).
OTHER_RATINGS: Final[dict[str, float]] = {
    "Scotland": 1800.0,
    "Sweden": 1810.0,
    "Norway": 1790.0,
    "Austria": 1790.0,
    "Wales": 1770.0,
    "Czech Republic": 1830.0,
    "Ukraine": 1860.0,
    "Finland": 1740.0,
    "Iceland": 1600.0,
    "Bulgaria": 1580.0,
    "Luxembourg": 1490.0,
    "Latvia": 1410.0,
    "Malta": 1310.0,
    "Andorra": 1170.0,
    "San Marino": 870.0,
    "Chile": 1770.0,
    "Peru": 1920.0,
    "Paraguay": 1800.0,
    "Venezuela": 1750.0,
    "Bolivia": 1680.0,
    "Egypt": 1760.0,
    "Ghana": 1700.0,
    "Algeria": 1810.0,
    "Tunisia": 1850.0,
    "Mali": 1740.0,
    "Burkina Faso": 1710.0,
    "South Africa": 1650.0,
    "Zambia": 1560.0,
    "Uganda": 1510.0,
    "Kenya": 1500.0,
    "Tanzania": 1430.0,
    "Lesotho": 1350.0,
    "Seychelles": 1070.0,
    "Qatar": 1680.0,
    "Iraq": 1690.0,
    "Uzbekistan": 1690.0,
    "China": 1600.0,
    "India": 1390.0,
    "Jordan": 1700.0,
    "Oman": 1680.0,
    "Vietnam": 1540.0,
    "Thailand": 1520.0,
    "Malaysia": 1390.0,
    "Philippines": 1270.0,
    "Nepal": 1150.0,
    "Sri Lanka": 930.0,
    "Panama": 1770.0,
    "Jamaica": 1670.0,
    "Honduras": 1590.0,
    "El Salvador": 1600.0,
    "Haiti": 1690.0,
    "Curaçao": 1520.0,
    "Guatemala": 1600.0,
    "Trinidad and Tobago": 1510.0,
    "Cuba": 1460.0,
    "Nicaragua": 1430.0,
    "Guyana": 1370.0,
    "Grenada": 1300.0,
    "Barbados": 1200.0,
    "Anguilla": 940.0,
}


class SyntheticScale(BaseModel):
    """How far apart the synthetic sides are, how many goals they score, and whom they play.

    Strengths are in rating points (the Elo-like scale of :data:`TEAM_RATINGS`);
    ``rating_scale`` turns a difference of them into goals (:func:`strength_half`).
    """

    model_config = ConfigDict(frozen=True)

    rated_spread: float = Field(
        gt=0,
        description="How far the sides of TEAM_RATINGS start from their mean, as a share "
        "of their hand-chosen distance: their Elo spread in the history is fitted with it.",
    )
    rating_scale: float = Field(
        gt=0,
        description="Rating points per base_goals of expected goal difference (see "
        "strength_half): the difference grows in proportion to the gap, as in the real data.",
    )
    base_goals: float = Field(
        gt=0, description="Goals per side between equal teams on a neutral ground."
    )
    home_advantage: float = Field(
        ge=0,
        description="Log ratio of the two sides' goal rates that playing at home adds: half "
        "raises the home side's rate, half lowers the visitors' (in the real data equal sides "
        "score about as many goals in all on a home ground as on a neutral one).",
    )
    friendly_range: float = Field(
        gt=0,
        description="Rating points per factor e by which a side's chance to be the opponent "
        "in a friendly (or a Nations League or minor tournament match) falls with the "
        "distance between the two sides: such matches mostly pair sides of a level.",
    )
    low_score_dependence: float = Field(
        le=0,
        description="Dixon and Coles' rho: below 0, more 0-0 and 1-1 and fewer 1-0 and 0-1 "
        "than two independent Poisson counts give (real matches have more draws).",
    )


#: The scale fitted to the real data and written here, because the demo must not read the
#: data: ``python -m models.synthetic_scale --data data/international_results`` fits it
#: again, and ``docs/model.md`` ("The demo's synthetic history") has what it matches.
SCALE: Final = SyntheticScale(
    rated_spread=0.9302,
    rating_scale=257.4,
    base_goals=1.118,
    home_advantage=0.5266,
    friendly_range=250.7,
    low_score_dependence=-0.09712,
)

START: Final = pd.Timestamp("2000-01-01")
MATCHES_PER_YEAR: Final = 400
#: A side's strength wanders around its starting rating (an Ornstein-Uhlenbeck process), so
#: form and ratings have something to track: by this many points (standard deviation) ...
DRIFT: Final = 40.0
#: ... and back towards it with this time constant, so a longer history is no wider.
DRIFT_DAYS: Final = 4 * 365.25
#: Rating points per factor e in a side's chance to play in a World Cup or continental
#: final tournament: stronger sides qualify, so finals mostly pit good sides against each other.
FINALS_SELECTION: Final = 150.0
OWN_GOAL_RATE: Final = 0.03
PENALTY_RATE: Final = 0.08
UNKNOWN_MINUTE_RATE: Final = 0.005  # the real data lacks the minute of ~0.5% of goals
#: Goals per side the score grid holds (0..MAX_GOALS); the rest of the mass is spread back.
MAX_GOALS: Final = 15
_CHUNK: Final = 4096  # matches per score grid, so a long history needs little memory


class _Streams(NamedTuple):
    """Independent random streams: with another :class:`SyntheticScale` the calendar, the
    fixtures and each match's luck stay the same, so scales can be compared fairly."""

    schedule: np.random.Generator
    strength: np.random.Generator
    scores: np.random.Generator
    goals: np.random.Generator


def _streams(seed: int) -> _Streams:
    return _Streams(*(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)))


def _ratings(days: np.ndarray, rng: np.random.Generator, scale: SyntheticScale) -> np.ndarray:
    """(len(days), len(TEAMS)): each side's rating on each match's day."""
    centre = float(np.mean(list(TEAM_RATINGS.values())))
    start = np.array(
        [
            centre + scale.rated_spread * (TEAM_RATINGS[team] - centre)
            if team in TEAM_RATINGS
            else OTHER_RATINGS[team]
            for team in TEAMS
        ]
    )
    keep = np.exp(-np.diff(days, prepend=days[:1]) / DRIFT_DAYS)  # of the last offset
    shocks = (
        rng.normal(0.0, 1.0, size=(len(days), len(TEAMS)))
        * (DRIFT * np.sqrt(1.0 - keep**2))[:, None]
    )
    offset = np.empty_like(shocks)
    previous = np.zeros(len(TEAMS))
    for i in range(len(days)):
        previous = offset[i] = previous * keep[i] + shocks[i]
    return start + offset


def strength_half(rating_gap: np.ndarray, rating_scale: float) -> np.ndarray:
    """Half the log ratio of the two sides' goal rates that a rating gap makes: asinh of
    half the gap over ``rating_scale``. Each side then scores ``base * exp(+-half)``, so the
    expected goal difference, ``2 * base * sinh(half) = base * gap / rating_scale``, grows
    in proportion to the gap, as in the real data (``docs/model.md``), and the goals in all
    grow with it as they do in mismatches. A plain exponential (``half = gap / (2 *
    rating_scale)``) makes close matches too even for a given average, and mismatches too
    lopsided."""
    return np.arcsinh(np.asarray(rating_gap, dtype=np.float64) / (2.0 * rating_scale))


def score_grid(rates: np.ndarray, rho: float) -> np.ndarray:
    """(N, G, G) P(home scores i, away scores j) for (N, 2) goal rates: Dixon and Coles'
    model (two Poisson counts, the four low scores reweighted by ``rho``), on 0..MAX_GOALS
    per side and renormalised."""
    goals = np.arange(MAX_GOALS + 1)
    home = poisson.pmf(goals, rates[:, :1])
    away = poisson.pmf(goals, rates[:, 1:])
    grid = home[:, :, None] * away[:, None, :]
    lam, mu = rates[:, 0], rates[:, 1]
    # Clipped at 0: with large rates and a strong rho a reweighted cell could go negative.
    grid[:, 0, 0] *= np.maximum(1.0 - lam * mu * rho, 0.0)
    grid[:, 0, 1] *= np.maximum(1.0 + lam * rho, 0.0)
    grid[:, 1, 0] *= np.maximum(1.0 + mu * rho, 0.0)
    grid[:, 1, 1] *= 1.0 - rho
    return grid / grid.sum(axis=(1, 2), keepdims=True)


def draw_scores(rates: np.ndarray, rho: float, luck: np.ndarray) -> np.ndarray:
    """(N, 2) scores for (N, 2) goal rates, drawn from :func:`score_grid` with (N, 2)
    uniforms: the home score inverts its marginal's CDF at ``luck[:, 0]``, the away score
    its CDF given the home score at ``luck[:, 1]``.

    With fixed uniforms a slightly other scale moves a few scores by one goal, so the fit
    sees the scale's effect rather than new luck.
    """
    out = np.empty((len(rates), 2), dtype=np.int64)
    top = MAX_GOALS  # a running sum short of 1 by rounding stays on the grid
    for first in range(0, len(rates), _CHUNK):
        rows = slice(first, first + _CHUNK)
        grid, u = score_grid(rates[rows], rho), luck[rows]
        marginal = grid.sum(axis=2)
        home = np.minimum((np.cumsum(marginal, axis=1) < u[:, :1]).sum(axis=1), top)
        given = grid[np.arange(len(grid)), home]
        running = np.cumsum(given, axis=1) / given.sum(axis=1, keepdims=True)
        away = np.minimum((running < u[:, 1:]).sum(axis=1), top)
        out[rows, 0], out[rows, 1] = home, away
    return out


def _pick_pair(rng: np.random.Generator, pool: np.ndarray, weights: np.ndarray) -> tuple[int, int]:
    """Two sides of ``pool`` drawn in turn without replacement, each with chance in
    proportion to its weight: the two largest of log-weight plus Gumbel noise, which draws
    the same amount of randomness whatever the weights (so another scale, whose weights
    differ, keeps every later fixture)."""
    keys = np.log(weights) + rng.gumbel(size=len(pool))
    home, away = np.argsort(-keys)[:2]
    return int(pool[home]), int(pool[away])


def _pick_close(
    rng: np.random.Generator, pool: np.ndarray, ratings: np.ndarray, spread: float
) -> tuple[int, int]:
    """A side of ``pool`` at random, and an opponent whose chance falls by a factor e for
    every ``spread`` rating points between them (drawn as :func:`_pick_pair` draws)."""
    home = int(pool[np.argmax(rng.gumbel(size=len(pool)))])
    keys = rng.gumbel(size=len(pool)) - np.abs(ratings[pool] - ratings[home]) / spread
    keys[pool == home] = -np.inf
    return home, int(pool[np.argmax(keys)])


def _qualified(ratings: np.ndarray) -> np.ndarray:
    """Each side's weight in the draw of a final tournament's matches."""
    return np.exp((ratings - ratings.max()) / FINALS_SELECTION)


def _fixtures(
    kinds: np.ndarray, ratings: np.ndarray, rng: np.random.Generator, scale: SyntheticScale
) -> list[tuple[int, int, str, bool]]:
    """(home, away, tournament, neutral) of each match."""
    confed = np.array([c for c, group in CONFEDERATIONS.items() for _ in group])
    everyone = np.arange(len(TEAMS))
    fixtures = []
    for kind_index, rating in zip(kinds, ratings, strict=True):
        kind = _KINDS[kind_index][0]
        neutral = False
        if kind in {"continental qualification", "continental"}:
            region = str(rng.choice(list(CONFEDERATIONS)))
            pool = everyone[confed == region]
            weights = _qualified(rating[pool]) if kind == "continental" else np.ones(len(pool))
            home, away = _pick_pair(rng, pool, weights)
            name = CONTINENTAL[region]
            tournament = name if kind == "continental" else f"{name} qualification"
            neutral = kind == "continental" and rng.random() > 0.15
        elif kind == "UEFA Nations League":
            # Its leagues group sides of a level, as friendlies mostly do.
            pool = everyone[confed == "UEFA"]
            home, away = _pick_close(rng, pool, rating, scale.friendly_range)
            tournament = kind
        elif kind == "FIFA World Cup":
            home, away = _pick_pair(rng, everyone, _qualified(rating))
            tournament, neutral = kind, rng.random() > 0.1
        elif kind == "FIFA World Cup qualification":
            region = confed[rng.integers(len(TEAMS))]
            pool = everyone[confed == region]
            home, away = _pick_pair(rng, pool, np.ones(len(pool)))
            tournament = kind
        else:
            home, away = _pick_close(rng, everyone, rating, scale.friendly_range)
            tournament = kind if kind == "Friendly" else str(rng.choice(_OTHER_TOURNAMENTS))
            neutral = rng.random() < 0.12
        fixtures.append((home, away, tournament, neutral))
    return fixtures


def generate_results(n_matches: int, seed: int = 0, scale: SyntheticScale = SCALE) -> pd.DataFrame:
    """The results of :func:`generate_matches` (the same for the same arguments), without
    the goals: quicker, for the scale's fit."""
    return _results(n_matches, seed, scale)[0]


def generate_matches(n_matches: int, seed: int = 0, scale: SyntheticScale = SCALE) -> MatchData:
    """``n_matches`` synthetic matches from 2000-01-01 on, about 400 a year, with goals."""
    results, goals_rng = _results(n_matches, seed, scale)
    return MatchData(results=results, goals=_goals(results, goals_rng))


def _results(
    n_matches: int, seed: int, scale: SyntheticScale
) -> tuple[pd.DataFrame, np.random.Generator]:
    """The results, and the random stream the goals are drawn from."""
    if n_matches < 1:
        raise ValueError("n_matches must be >= 1")
    rng = _streams(seed)
    span_days = max(365, round(365.25 * n_matches / MATCHES_PER_YEAR))
    days = np.sort(rng.schedule.integers(0, span_days, size=n_matches))
    kinds = rng.schedule.choice(len(_KINDS), size=n_matches, p=[share for _, share in _KINDS])
    ratings = _ratings(days, rng.strength, scale)
    fixtures = _fixtures(kinds, ratings, rng.schedule, scale)

    home, away = (np.array([f[i] for f in fixtures]) for i in (0, 1))
    neutral = np.array([f[3] for f in fixtures])
    rows = np.arange(n_matches)
    # Each side scores at base_goals * exp(+-half the log rate ratio): strength and venue.
    half = strength_half(ratings[rows, home] - ratings[rows, away], scale.rating_scale)
    half = half + np.where(neutral, 0.0, scale.home_advantage / 2)
    rates = scale.base_goals * np.exp(np.column_stack([half, -half]))
    scores = draw_scores(rates, scale.low_score_dependence, rng.scores.random((n_matches, 2)))

    dates = START + pd.to_timedelta(days, unit="D")
    names = np.array(TEAMS, dtype=object)
    results = pd.DataFrame(
        {
            "date": dates,
            "home_team": names[home],
            "away_team": names[away],
            "home_score": scores[:, 0],
            "away_score": scores[:, 1],
            "tournament": [f[2] for f in fixtures],
            "city": "",
            "country": np.where(neutral, "", names[home]),
            "neutral": neutral,
        },
        columns=list(RESULT_COLUMNS),
    )
    return results, rng.goals


def _goals(results: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per goal of ``results``: minutes uniform over 90, some own goals and
    penalties, a few minutes unknown."""
    goals: list[tuple[object, ...]] = []
    for date, h_name, a_name, home_score, away_score in zip(
        results["date"],
        results["home_team"],
        results["away_team"],
        results["home_score"],
        results["away_score"],
        strict=True,
    ):
        n_goals = int(home_score + away_score)
        minutes = np.sort(rng.integers(1, 91, size=n_goals)).astype(np.float64)
        minutes[rng.random(n_goals) < UNKNOWN_MINUTE_RATE] = np.nan
        credited = rng.permutation([h_name] * int(home_score) + [a_name] * int(away_score))
        for minute, team in zip(minutes, credited, strict=True):
            own_goal = bool(rng.random() < OWN_GOAL_RATE)
            penalty = not own_goal and bool(rng.random() < PENALTY_RATE)
            scorer_team = (a_name if team == h_name else h_name) if own_goal else team
            scorer = f"{scorer_team} player {int(rng.integers(1, 24))}"
            goals.append((date, h_name, a_name, str(team), scorer, minute, own_goal, penalty))
    frame = pd.DataFrame(goals, columns=list(GOAL_COLUMNS))
    frame["date"] = pd.to_datetime(frame["date"])
    frame["minute"] = frame["minute"].astype(np.float64)
    for column in ("own_goal", "penalty"):
        frame[column] = frame[column].astype(bool)
    return frame

"""Fit the synthetic history (:mod:`models.synthetic`) to the real data.

Run from the repo root::

    python -m models.synthetic_scale --data data/international_results
    python -m models.synthetic_scale --data data/international_results --seeds 2 --rounds 3

It prints what the synthetic history's constants control, measured on the real results of
the recent era (:data:`ERA_START` to :data:`ERA_END`) and on synthetic histories with the
embedded constants and with the fitted ones, then the code to write into
``models/synthetic.py``: the demo must not read the data, so the constants live there.
Progress goes to stderr; a bad argument or data folder is one ``error:`` line, status 2.

**What is measured** (:class:`ScaleStatistics`), the same way on both sides, on the sides
the synthetic history knows (:data:`models.synthetic.TEAMS`, under their real names) and
the matches between two of them: the spread of the Elo ratings (the repo's own,
:func:`models.features.compute_features`) of the 32 ``TEAM_RATINGS`` sides; the goal
difference per 100 points of pre-match Elo gap, on matches less than :data:`SLOPE_GAP`
apart; the mean Elo gap of a match; the goals per side; the home side's goal edge on its
own ground; the share of draws. The real Elo ratings have settled over 150 years; so that
the synthetic ones have settled too, each synthetic history is :data:`FIT_MATCHES` matches
(30 years) and is measured over its last :data:`ERA_YEARS`, the real era's length.

**The fit** is a fixed-point iteration on the same seeds (each match keeps its fixture and
its luck from round to round, see :mod:`models.synthetic`): each constant moves by the
ratio (for rho, the difference) of the statistic it drives, real over synthetic, damped,
until none moves by more than :data:`TOLERANCE` of itself. ``rated_spread`` drives the
Elo spread, ``rating_scale`` the goals per rating point, ``friendly_range`` the mean gap,
``base_goals`` the goals, ``home_advantage`` the home edge and ``low_score_dependence``
(Dixon and Coles' rho) the draws. The other sides' starting ratings
(:data:`models.synthetic.OTHER_RATINGS`) are their real Elo ratings at the end of the era,
rounded to :data:`RATING_STEP` points; the Elo spread of all sides is shown as a check.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from models.cli import EXIT_USAGE, UsageError, _Parser, _positive
from models.data import DataError, MatchData, load_results
from models.features import compute_features
from models.synthetic import (
    OTHER_RATINGS,
    SCALE,
    TEAM_RATINGS,
    TEAMS,
    SyntheticScale,
    generate_results,
)

ERA_START: Final = dt.date(2010, 1, 1)
ERA_END: Final = dt.date(2022, 12, 31)
ERA_YEARS: Final = ERA_END.year - ERA_START.year + 1
FIT_MATCHES: Final = 12000
FIT_SEEDS: Final = 4
MAX_ROUNDS: Final = 40
TOLERANCE: Final = 0.002
#: Share of each step taken: each constant moves the other statistics too (fewer goals mean
#: more draws and closer ratings), and whole steps overshoot and swing.
DAMPING: Final = 0.6
#: How much the share of draws falls as Dixon and Coles' rho rises by 1, at about 1.2 goals
#: a side: P(0-0) times the product of the rates, plus P(1-1), the mass rho moves.
DRAW_SHARE_PER_RHO: Final = 0.25
#: Below this size a constant's change counts as absolute, not relative (rho starts at 0).
_UNIT: Final = 0.1
#: The slope of goals on rating points is read on matches closer than this: the range of
#: World Cup matches, where the synthetic goal rates (exponential in the gap) and the real
#: data (close to linear) agree.
SLOPE_GAP: Final = 400.0
#: The other sides' starting ratings are rounded to this many points.
RATING_STEP: Final = 10.0


class ScaleStatistics(BaseModel):
    """What the synthetic constants control, measured on one history (or a mean of several)."""

    elo_sd_rated: float = Field(description="SD of the Elo ratings of the TEAM_RATINGS sides.")
    goal_diff_per_100: float = Field(
        description="Goals of difference per 100 points of pre-match Elo gap (least squares "
        "with a home-ground term, matches less than SLOPE_GAP apart)."
    )
    mean_gap: float = Field(description="Mean pre-match Elo gap of a match, either direction.")
    goals_per_side: float = Field(description="Mean goals per side and match.")
    home_goal_edge: float = Field(
        description="Mean home minus away goals in matches not on neutral ground."
    )
    draw_share: float = Field(description="Share of matches drawn.")
    elo_sd: float = Field(description="SD of the Elo ratings of every synthetic side (a check).")
    matches: int = Field(ge=0, description="Matches between two of the sides in the window.")


#: The statistics the fit matches (the others are shown as checks).
FITTED: Final = (
    "elo_sd_rated",
    "goal_diff_per_100",
    "mean_gap",
    "goals_per_side",
    "home_goal_edge",
    "draw_share",
)


class ScaleFit(BaseModel):
    """The fitted constants and what they give."""

    scale: SyntheticScale
    synthetic: ScaleStatistics
    rounds: int = Field(ge=1, description="Rounds run (each generates every seed's history).")
    converged: bool


def goal_diff_per_100(
    goal_diff: np.ndarray, rating_gap: np.ndarray, at_home: np.ndarray, within: float
) -> float:
    """The least-squares slope of the goal difference on the rating gap, per 100 points,
    with an intercept and a home-ground term, on the matches less than ``within`` apart."""
    near = np.abs(rating_gap) < within
    design = np.column_stack([np.ones(int(near.sum())), at_home[near], rating_gap[near] / 100])
    target = np.asarray(goal_diff, dtype=np.float64)[near]
    coefficients, *_ = np.linalg.lstsq(design, target, rcond=None)
    return float(coefficients[2])


def history_statistics(
    results: pd.DataFrame, start: dt.date | None = None, end: dt.date | None = None
) -> ScaleStatistics:
    """The statistics of a results frame: Elo ratings from the whole history up to ``end``,
    matches between two synthetic sides from ``start`` to ``end`` (both included; None: no
    bound). Spreads are over the synthetic sides the history has."""
    upto = results if end is None else results[results["date"] <= pd.Timestamp(end)]
    features = compute_features(upto)
    elo = features.teams["elo"]
    matches = features.prematch
    window = matches["home_team"].isin(TEAMS) & matches["away_team"].isin(TEAMS)
    if start is not None:
        window &= matches["date"] >= pd.Timestamp(start)
    among = matches[window]
    if among.empty:
        raise DataError(f"no matches between the synthetic sides from {start} to {end}")
    home, away = among["home_score"].to_numpy(), among["away_score"].to_numpy()
    gap = (among["home_elo"] - among["away_elo"]).to_numpy()
    at_home = ~among["neutral"].to_numpy(dtype=bool)
    return ScaleStatistics(
        elo_sd_rated=float(elo.reindex(list(TEAM_RATINGS)).std(ddof=0)),
        goal_diff_per_100=goal_diff_per_100(home - away, gap, at_home, SLOPE_GAP),
        mean_gap=float(np.abs(gap).mean()),
        goals_per_side=float((home + away).mean() / 2),
        home_goal_edge=float((home[at_home] - away[at_home]).mean()),
        draw_share=float((home == away).mean()),
        elo_sd=float(elo.reindex(list(TEAMS)).std(ddof=0)),
        matches=len(among),
    )


def _era_elo(data: MatchData) -> pd.Series:
    """Each synthetic side's real Elo rating at the end of the era; DataError if the data
    lacks one (a renamed side must be renamed in ``models/synthetic.py`` too)."""
    results = data.results
    elo = compute_features(results[results["date"] <= pd.Timestamp(ERA_END)]).teams["elo"]
    missing = [team for team in TEAMS if team not in elo.index]
    if missing:
        raise DataError(f"no matches of {', '.join(missing)} up to {ERA_END}")
    return elo[list(TEAMS)]


def real_statistics(data: MatchData) -> ScaleStatistics:
    """The statistics of the real results in the era."""
    _era_elo(data)
    return history_statistics(data.results, ERA_START, ERA_END)


def other_ratings(data: MatchData) -> dict[str, float]:
    """The starting ratings of the sides not in ``TEAM_RATINGS``: their real Elo ratings at
    the end of the era, rounded to ``RATING_STEP`` points."""
    elo = _era_elo(data)
    return {
        team: float(RATING_STEP * round(elo[team] / RATING_STEP))
        for team in TEAMS
        if team not in TEAM_RATINGS
    }


def synthetic_statistics(
    scale: SyntheticScale, n_matches: int = FIT_MATCHES, seeds: Sequence[int] = range(FIT_SEEDS)
) -> ScaleStatistics:
    """The mean statistics of the synthetic histories of ``seeds``, each over its last
    :data:`ERA_YEARS`."""
    each = []
    for seed in seeds:
        results = generate_results(n_matches, seed, scale)
        start = results["date"].max() - pd.DateOffset(years=ERA_YEARS)
        each.append(history_statistics(results, start.date()))
    fields = [name for name in ScaleStatistics.model_fields if name != "matches"]
    means = {name: float(np.mean([getattr(s, name) for s in each])) for name in fields}
    return ScaleStatistics(**means, matches=sum(s.matches for s in each))


def step(
    scale: SyntheticScale, got: ScaleStatistics, target: ScaleStatistics, damping: float = DAMPING
) -> SyntheticScale:
    """Each constant moved towards ``target`` from what ``scale`` gave (``got``): times the
    ratio of the statistic it drives to the power ``damping`` (rho: plus ``damping`` times
    the difference, converted), since each also moves the other statistics a little."""

    def times(value: float, ratio: float) -> float:
        return value * ratio**damping

    return SyntheticScale(
        rated_spread=times(scale.rated_spread, target.elo_sd_rated / got.elo_sd_rated),
        # A wider scale puts the sides closer: each 100 points is worth fewer goals.
        rating_scale=times(scale.rating_scale, got.goal_diff_per_100 / target.goal_diff_per_100),
        base_goals=times(scale.base_goals, target.goals_per_side / got.goals_per_side),
        home_advantage=times(scale.home_advantage, target.home_goal_edge / got.home_goal_edge),
        friendly_range=times(scale.friendly_range, target.mean_gap / got.mean_gap),
        low_score_dependence=min(
            scale.low_score_dependence
            - damping * (target.draw_share - got.draw_share) / DRAW_SHARE_PER_RHO,
            0.0,
        ),
    )


def _silent(_: str) -> None:
    return None


def _brief(model: BaseModel) -> str:
    return " ".join(
        f"{name}={value:.4g}" for name, value in model.model_dump().items() if name != "matches"
    )


def moved(old: SyntheticScale, new: SyntheticScale) -> float:
    """The largest change of a constant, relative to the constant (absolute below _UNIT)."""
    a, b = old.model_dump(), new.model_dump()
    return max(abs(b[name] - a[name]) / max(abs(a[name]), _UNIT) for name in a)


def fit_scale(
    target: ScaleStatistics,
    *,
    start: SyntheticScale = SCALE,
    n_matches: int = FIT_MATCHES,
    seeds: Sequence[int] = range(FIT_SEEDS),
    rounds: int = MAX_ROUNDS,
    tolerance: float = TOLERANCE,
    progress: Callable[[str], None] = _silent,
) -> ScaleFit:
    """The constants whose synthetic histories match ``target``, iterated from ``start``."""
    scale = start
    for done in range(1, rounds + 1):
        got = synthetic_statistics(scale, n_matches, seeds)
        progress(f"round {done}: {_brief(scale)} -> {_brief(got)}")
        new = step(scale, got, target)
        if moved(scale, new) < tolerance:
            return ScaleFit(scale=scale, synthetic=got, rounds=done, converged=True)
        scale = new
    return ScaleFit(
        scale=scale,
        synthetic=synthetic_statistics(scale, n_matches, seeds),
        rounds=rounds,
        converged=False,
    )


_LABELS: Final = {
    "elo_sd_rated": "Elo SD of the 32 TEAM_RATINGS sides",
    "goal_diff_per_100": "goal difference per 100 Elo points",
    "mean_gap": "mean Elo gap of a match",
    "goals_per_side": "goals per side",
    "home_goal_edge": "home goal edge on a home ground",
    "draw_share": "share of draws",
    "elo_sd": f"Elo SD of all {len(TEAMS)} sides (check)",
    "matches": "matches",
}


def format_table(columns: dict[str, ScaleStatistics]) -> str:
    """A Markdown table of the statistics, one column per history."""
    lines = ["| statistic | " + " | ".join(columns) + " |", "| --- |" + " ---: |" * len(columns)]
    for name, label in _LABELS.items():
        values = [getattr(stats, name) for stats in columns.values()]
        shown = [
            f"{v:,}" if isinstance(v, int) else f"{v:.3f}" if abs(v) < 10 else f"{v:.0f}"
            for v in values
        ]
        lines.append(f"| {label} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def format_scale(scale: SyntheticScale) -> str:
    """``scale`` as the assignment to write into ``models/synthetic.py``."""
    body = "".join(f"    {name}={value:.4g},\n" for name, value in scale.model_dump().items())
    return f"SCALE: Final = SyntheticScale(\n{body})"


def format_ratings(fitted: dict[str, float]) -> str:
    """The other sides' starting ratings that differ from ``OTHER_RATINGS``, as dict items."""
    changed = {team: r for team, r in fitted.items() if OTHER_RATINGS.get(team) != r}
    if not changed:
        return "OTHER_RATINGS: as embedded"
    lines = "".join(f'    "{team}": {rating:.1f},\n' for team, rating in changed.items())
    return f"OTHER_RATINGS changes:\n{lines}"


def _progress(message: str) -> None:
    print(f"[synthetic_scale] {message}", file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m models.synthetic_scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="international_results folder")
    parser.add_argument(
        "--matches",
        type=_positive,
        default=FIT_MATCHES,
        help=f"matches per synthetic history (default {FIT_MATCHES})",
    )
    parser.add_argument(
        "--seeds",
        type=_positive,
        default=FIT_SEEDS,
        help=f"histories a round (default {FIT_SEEDS})",
    )
    parser.add_argument(
        "--rounds", type=_positive, default=MAX_ROUNDS, help=f"most rounds (default {MAX_ROUNDS})"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, fit, print; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        data = load_results(args.data)
        real, ratings = real_statistics(data), other_ratings(data)
    except (UsageError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    seeds = range(args.seeds)
    embedded = synthetic_statistics(SCALE, args.matches, seeds)
    fit = fit_scale(
        real, n_matches=args.matches, seeds=seeds, rounds=args.rounds, progress=_progress
    )
    columns = {
        f"real {ERA_START.year}-{ERA_END.year}": real,
        "synthetic, embedded": embedded,
        "synthetic, fitted": fit.synthetic,
    }
    state = "converged" if fit.converged else "not converged"
    print(format_table(columns))
    print(f"\nfitted in {fit.rounds} round(s), {state}; {args.seeds} histories of {args.matches:,}")
    print(format_scale(fit.scale))
    print(format_ratings(ratings))
    return 0


if __name__ == "__main__":
    sys.exit(main())

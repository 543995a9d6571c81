"""penaltyblog's Dixon-Coles walked forward over the holdout: the anchor of issue 24.

    .venv/bin/python -m bench.dixon_coles_anchor [--data data/international_results]
        [--refit-days 7] [--rows anchor.csv]

An off-the-shelf goals model that no one here wrote, run as its author documents it, so the
service's season replay (``python -m bench.season_replay``) has a fixed bar to beat on the
same matches. For the matches dated ``start..end`` (by default the holdout of
``python -m models evaluate``, 2023-01-01..2024-12-31), ``DixonColesGoalModel`` is refitted
every ``refit_days`` days counted from ``start``, each time on the matches of the
``window_years`` years strictly before the refit date, weighted by ``dixon_coles_weights``
with ``xi`` per day (the weight of a match is ``exp(-xi * days before the refit date)``).
Each match is predicted by the latest fit made on or before its date, so neither its own
result nor any later one is ever seen. A period between two refit dates with no match in it
is not fitted: no prediction would use that fit.

Venues: penaltyblog (1.13) takes a per-match ``neutral_venue`` flag, both when fitting
(a neutral match does not inform the home advantage) and when predicting (a neutral match
gets no home advantage). Both use the data's ``neutral`` column.

A match with a team the fit has never seen (absent from the window, or first seen after the
refit date) gets 1/3 for each outcome: the fit knows nothing of that side, and a wrong
guess costs at most ln 3. Such teams are almost all minnows (Island Games and CONIFA
sides), far below the fit's average team, which was tried instead (docs/benchmarks.md,
"The Dixon-Coles anchor").

Each fit starts from the previous fit's parameters instead of penaltyblog's constant
start, shifted so the attacks average 1 as penaltyblog's constraint wants (adding c to every
attack and taking it from every defence leaves the expected goals as they were, bounds
aside). The optimum is the same, and the optimiser (SLSQP over ~570 parameters on the real
data) mostly needs far fewer iterations to reach it. Only a fit that converges
(penaltyblog's own test) is used: when the warm start has not converged after
``WARM_MAX_ITERATIONS`` (SLSQP can creep along the parameter bounds of +-2.5 for hundreds
of iterations), the fit is made again from penaltyblog's start.

Prints log-loss and RPS on the whole holdout and on each half (split as the season replay
splits it) and the seconds the walk took; progress goes to stderr. ``--rows`` also writes
the per-match rows (match id, date, fit date, probabilities, outcome) as CSV, for
comparing with other predictors match by match. Needs the ``bench`` extra
(``pip install -e '.[bench]'``). The full walk is not part of the tests.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
from penaltyblog.models import DixonColesGoalModel, dixon_coles_weights

from bench.halves import half_table, scores_by_half, season_halves
from models.cli import EXIT_USAGE, UsageError, _Parser, _positive
from models.data import DataError, load_results
from models.evaluation import HOLDOUT_FROM, HOLDOUT_TO
from models.features import outcome_labels
from models.ids import match_id
from schemas import OUTCOMES

#: Where a checkout keeps the public international results dataset (ignored by git).
DEFAULT_DATA: Final = Path(__file__).resolve().parents[1] / "data" / "international_results"
#: The parameters issue 24 names for the anchor.
REFIT_DAYS: Final = 7
XI: Final = 0.0018
WINDOW_YEARS: Final = 6
#: Goals per side in a grid (0..14), penaltyblog's ``predict`` default.
MAX_GOALS: Final = 15
PROBA_COLUMNS: Final = tuple(f"p_{outcome}" for outcome in OUTCOMES)
#: A warm start that has not converged by then is dropped for penaltyblog's own start (a
#: cold fit takes about 135 iterations on the real data).
WARM_MAX_ITERATIONS: Final = 150
#: Progress is one line per this many fits (and after the first, the slowest: no warm start).
PROGRESS_EVERY: Final = 10


def say(message: str) -> None:
    print(f"[anchor] {message}", file=sys.stderr, flush=True)


def refit_dates(start: pd.Timestamp, end: pd.Timestamp, refit_days: int) -> pd.DatetimeIndex:
    """``start``, ``start + refit_days``, ... up to ``end``."""
    return pd.date_range(start, end, freq=pd.Timedelta(days=refit_days))


def fit_before(
    results: pd.DataFrame,
    fitted_on: pd.Timestamp,
    xi: float,
    window_years: int,
    warm: DixonColesGoalModel | None = None,
    progress: Callable[[str], None] | None = None,
) -> DixonColesGoalModel:
    """Dixon-Coles fitted on the ``window_years`` years of matches before ``fitted_on``,
    from ``warm``'s parameters if given (see the module's docstring)."""
    since = fitted_on - pd.DateOffset(years=window_years)
    window = results[(results["date"] >= since) & (results["date"] < fitted_on)]
    if window.empty:
        raise ValueError(f"no match in the {window_years} years before {fitted_on.date()}")
    model = DixonColesGoalModel(
        window["home_score"],
        window["away_score"],
        window["home_team"],
        window["away_team"],
        weights=dixon_coles_weights(window["date"], xi, base_date=fitted_on),
        neutral_venue=window["neutral"].astype(int),
    )
    if warm is not None:
        own_start = model._params
        # penaltyblog's fit has no start argument; it starts from ``_params``.
        model._params = warm_start(model, warm)
        try:
            model.fit(minimizer_options={"maxiter": WARM_MAX_ITERATIONS})
            return model
        except ValueError as exc:
            if progress is not None:
                progress(f"fit of {fitted_on.date()}: {exc}; again from penaltyblog's start")
            model._params = own_start
    model.fit()
    return model


def warm_start(model: DixonColesGoalModel, previous: DixonColesGoalModel) -> np.ndarray:
    """``model``'s starting parameters: ``previous``'s where it knows the team, else
    penaltyblog's own start; shifted onto penaltyblog's constraint (mean attack 1)."""
    start = model._params.copy()
    known = previous.params
    n = model.n_teams
    for i, team in enumerate(model.teams):
        if f"attack_{team}" in known:
            start[i] = known[f"attack_{team}"]
            start[i + n] = known[f"defence_{team}"]
    start[-2] = known["home_advantage"]
    start[-1] = known["rho"]
    # The same expected goals (bounds aside), on the constraint from the first step.
    shift = 1.0 - start[:n].mean()
    start[:n] += shift
    start[n : 2 * n] -= shift
    return start


def predict(model: DixonColesGoalModel, matches: pd.DataFrame) -> np.ndarray:
    """(N, 3) home/draw/away probabilities of ``matches`` (home_team, away_team, neutral);
    1/3 each where the fit has not seen a team."""
    homes = matches["home_team"].to_numpy(dtype=str)
    aways = matches["away_team"].to_numpy(dtype=str)
    neutral = matches["neutral"].to_numpy(dtype=bool)
    known = np.isin(homes, model.teams) & np.isin(aways, model.teams)
    out = np.full((len(matches), len(OUTCOMES)), 1 / len(OUTCOMES))
    if known.any():
        grids = model.predict_many(
            homes[known], aways[known], max_goals=MAX_GOALS, neutral_venue=neutral[known]
        )
        out[known] = [grid.home_draw_away for grid in grids]
    return out


def walk_forward(
    results: pd.DataFrame,
    start: dt.date | pd.Timestamp = HOLDOUT_FROM,
    end: dt.date | pd.Timestamp = HOLDOUT_TO,
    refit_days: int = REFIT_DAYS,
    xi: float = XI,
    window_years: int = WINDOW_YEARS,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Predict every match dated ``start..end`` (inclusive) with the latest fit before it.

    ``results`` has the columns of :func:`models.data.load_results`. Returns one row per
    match in date order (as ``results`` orders a day's matches): ``match_id``, ``date``,
    ``home_team``, ``away_team``, ``neutral``, ``fitted_on`` (the refit date of the fit that
    predicted it), ``p_home``, ``p_draw``, ``p_away`` and ``outcome`` (0, 1, 2: home win,
    draw, away win). ``progress`` receives a line before the first fit, after it, and
    after every tenth.
    """
    if refit_days < 1 or window_years < 1 or xi < 0:
        raise ValueError("refit_days and window_years must be at least 1 and xi at least 0")
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    frame = results.sort_values("date", kind="stable").reset_index(drop=True)
    season = frame[(frame["date"] >= start) & (frame["date"] <= end)].reset_index(drop=True)
    if season.empty:
        raise ValueError(f"no match dated {start.date()}..{end.date()}")
    schedule = refit_dates(start, end, refit_days)
    period = np.searchsorted(schedule.to_numpy(), season["date"].to_numpy(), side="right") - 1
    proba = np.empty((len(season), len(OUTCOMES)))
    fitted_on = np.empty(len(season), dtype="datetime64[ns]")
    periods = np.unique(period)
    if progress is not None:
        progress(f"{len(season)} matches, {len(periods)} fits, every {refit_days} days")
    previous = None
    for n, k in enumerate(periods, 1):
        previous = fit_before(frame, schedule[k], xi, window_years, previous, progress)
        mask = period == k
        proba[mask] = predict(previous, season[mask])
        fitted_on[mask] = schedule[k].to_datetime64()
        if progress is not None and (n % PROGRESS_EVERY == 0 or n in (1, len(periods))):
            progress(f"{n}/{len(periods)} fits (fitted on {schedule[k].date()})")
    rows = season[["date", "home_team", "away_team", "neutral"]].copy()
    rows.insert(0, "match_id", [match_id(*key) for key in rows.iloc[:, :3].itertuples(False)])
    rows["fitted_on"] = fitted_on
    rows[list(PROBA_COLUMNS)] = proba
    rows["outcome"] = outcome_labels(season["home_score"], season["away_score"])
    return rows


def anchor_proba(rows: pd.DataFrame, match_ids: list[str]) -> np.ndarray:
    """(N, 3) probabilities of :func:`walk_forward`'s ``rows`` for ``match_ids``, in their
    order; raises if the anchor did not predict one of them."""
    if rows["match_id"].duplicated().any():
        raise ValueError("a match id appears more than once in the anchor's rows")
    indexed = rows.set_index("match_id")
    missing = [mid for mid in match_ids if mid not in indexed.index]
    if missing:
        raise ValueError(f"the anchor has no prediction for {len(missing)} matches: {missing[:3]}")
    return indexed.loc[match_ids, list(PROBA_COLUMNS)].to_numpy()


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m bench.dixon_coles_anchor", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="results.csv's folder")
    parser.add_argument("--refit-days", type=_positive, default=REFIT_DAYS, metavar="DAYS")
    parser.add_argument("--rows", type=Path, help="write the per-match rows to this CSV")
    try:
        args = parser.parse_args(argv)
        if args.rows is not None and not args.rows.parent.is_dir():
            raise UsageError(f"--rows: no such folder: {args.rows.parent}")
        results = load_results(args.data).results
    except (UsageError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    started = time.monotonic()
    rows = walk_forward(results, refit_days=args.refit_days, progress=say)
    seconds = time.monotonic() - started
    if args.rows is not None:
        rows.to_csv(args.rows, index=False)
    middle, first = season_halves(rows["date"])
    name = f"Dixon-Coles, refit {args.refit_days} days"
    scores = scores_by_half(rows[list(PROBA_COLUMNS)].to_numpy(), rows["outcome"].to_numpy(), first)
    print(
        f"{len(rows)} matches {HOLDOUT_FROM}..{HOLDOUT_TO}; halves split at {middle.date()} "
        f"({scores.first.n} + {scores.second.n}); xi {XI}/day, window {WINDOW_YEARS} years; "
        f"{rows['fitted_on'].nunique()} fits in {seconds:.0f} s"
    )
    print("\n".join(half_table({name: scores})))
    return 0


if __name__ == "__main__":
    sys.exit(main())

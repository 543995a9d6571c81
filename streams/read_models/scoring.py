"""Forecasts scored against a result (pure): the records of the scores topic.

Scoring every prediction would weigh a match by how many events it had; what is scored is
each model version's last forecast in each phase (``streams.read_models.outputs``), what a
user saw at the end of it. Whatever arrives last scores: a result scores every forecast
held, and a forecast that changes after the result (a challenger's answer of the last
batch, read after the result) scores its slot again. Scores are keyed
``match_id|version|phase`` on a compacted topic, so a re-score replaces the earlier one and
the board (``streams.evaluation.board``) ends with one score per version and phase of each
match, as the offline evaluation (``python -m models evaluate``) counts them.

A forecast with expected goals also scores its final total goals
(``models.scorelines.total_goals_rps``: the goals still to come, expected final goals minus
the score it was made at, on top of that score, against the final total); one without
(an older model's) has ``goals_rps`` None.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import numpy as np

from models.scorelines import total_goals_rps
from models.scoring import forecast_scores
from schemas import OUTCOMES, Forecast, MatchResult, MatchScore
from streams.read_models.outputs import Slot


def outcome_of(home_goals: int, away_goals: int) -> int:
    """0, 1, 2 for a home win, draw, away win (the order of ``OUTCOMES``)."""
    return 0 if home_goals > away_goals else 1 if home_goals == away_goals else 2


def score_slots(
    result: MatchResult,
    forecasts: Mapping[Slot, Forecast],
    slots: Iterable[Slot],
    now: dt.datetime,
) -> list[MatchScore]:
    """The scores of the forecasts in ``slots`` against ``result``, in version and phase
    order (a slot with no forecast is left out)."""
    rows = sorted((slot, forecasts[slot]) for slot in set(slots) if slot in forecasts)
    if not rows:
        return []
    outcome = outcome_of(result.home_goals, result.away_goals)
    proba = np.array([[f.home, f.draw, f.away] for _, f in rows])
    scores = forecast_scores(proba, np.full(len(rows), outcome))
    goals = goals_scores(result, [forecast for _, forecast in rows])
    return [
        MatchScore(
            match_id=result.match_id,
            model_version=version,
            phase=phase,
            date=result.date,
            home=forecast.home,
            draw=forecast.draw,
            away=forecast.away,
            outcome=OUTCOMES[outcome],
            log_loss=float(scores.log_loss[i]),
            brier=float(scores.brier[i]),
            rps=float(scores.rps[i]),
            goals_rps=goals[i],
            scored_at=now,
        )
        for i, ((version, phase), forecast) in enumerate(rows)
    ]


def goals_scores(result: MatchResult, forecasts: list[Forecast]) -> list[float | None]:
    """The total-goals RPS of each forecast against ``result``; None for one without
    expected goals."""
    with_goals = [
        (i, to_come, (f.home_goals, f.away_goals))
        for i, f in enumerate(forecasts)
        if (to_come := f.goals_to_come) is not None
    ]
    out: list[float | None] = [None] * len(forecasts)
    if with_goals:
        where, to_come, scored = zip(*with_goals, strict=True)
        final = np.full(len(where), result.home_goals + result.away_goals)
        for i, rps in zip(where, total_goals_rps(to_come, scored, final), strict=True):
            out[i] = float(rps)
    return out

"""Served forecasts, remembered per match and scored when its result arrives (pure)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from models.scoring import forecast_scores
from schemas import OUTCOMES, Forecast, MatchMemory, MatchScore, Prediction, phase_of
from streams.newest import outranks, seq_rank


def remember_forecast(memory: MatchMemory, prediction: Prediction) -> None:
    """Keep ``prediction`` as its model version's last forecast in its phase: the one of the
    newest state (a request answer has its state's ``seq``, or none before kick-off)."""
    phase = phase_of(prediction.status, prediction.minute)
    if phase is None:
        return  # a prediction of the final state forecasts nothing
    phases = memory.forecasts.setdefault(prediction.model.version, {})
    held = phases.get(phase)
    if held is not None and not outranks(seq_rank(prediction.seq), seq_rank(held.seq)):
        return  # the other agent already remembered a forecast of a newer state
    p = prediction.probabilities
    phases[phase] = Forecast(
        home=p.home,
        draw=p.draw,
        away=p.away,
        minute=prediction.minute,
        seq=prediction.seq,
        at=prediction.predicted_at,
    )


def outcome_of(home_goals: int, away_goals: int) -> int:
    """0, 1, 2 for a home win, draw, away win (the order of ``OUTCOMES``)."""
    return 0 if home_goals > away_goals else 1 if home_goals == away_goals else 2


def score_match(
    match_id: str,
    date: dt.date,
    memory: MatchMemory,
    home_goals: int,
    away_goals: int,
    now: dt.datetime,
) -> list[MatchScore]:
    """Every remembered forecast of the match, scored against its final score."""
    rows = [
        (version, phase, forecast)
        for version, phases in sorted(memory.forecasts.items())
        for phase, forecast in sorted(phases.items())
    ]
    if not rows:
        return []
    outcome = outcome_of(home_goals, away_goals)
    proba = np.array([[f.home, f.draw, f.away] for _, _, f in rows])
    scores = forecast_scores(proba, np.full(len(rows), outcome))
    return [
        MatchScore(
            match_id=match_id,
            model_version=version,
            phase=phase,
            date=date,
            home=forecast.home,
            draw=forecast.draw,
            away=forecast.away,
            outcome=OUTCOMES[outcome],
            log_loss=float(scores.log_loss[i]),
            brier=float(scores.brier[i]),
            rps=float(scores.rps[i]),
            scored_at=now,
        )
        for i, (version, phase, forecast) in enumerate(rows)
    ]

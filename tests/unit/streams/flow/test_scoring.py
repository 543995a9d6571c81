"""Forecasts remembered per match and phase, scored with the offline scorer."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from models.scoring import forecast_scores
from schemas import MatchMemory, ModelRef, Prediction, phase_of
from streams.flow.scoring import outcome_of, remember_forecast, score_match
from tests.factories import livescore

NOW = dt.datetime(2024, 6, 14, 22, tzinfo=dt.UTC)


def predicted(version: str, status: str, minute: int, p: list[float], seq: int) -> Prediction:
    event = livescore(status=status, minute=minute, seq=seq, home_goals=0, away_goals=0)
    return Prediction.for_livescore(
        event,
        np.array(p),
        model=ModelRef(name="soccer_clf", version=version, alias="champion", run_id=None),
        features_version="v+0",
    )


@pytest.mark.parametrize(
    ("status", "minute", "phase"),
    [
        ("scheduled", 0, "pre"),
        ("live", 0, "0-29"),
        ("live", 29, "0-29"),
        ("halftime", 45, "30-59"),
        ("live", 60, "60+"),
        ("live", 118, "60+"),
        ("finished", 90, None),
    ],
)
def test_phases(status: str, minute: int, phase: str | None) -> None:
    assert phase_of(status, minute) == phase  # type: ignore[arg-type]


def test_the_last_forecast_of_each_phase_is_kept_per_version() -> None:
    memory = MatchMemory(touched_at=NOW)
    remember_forecast(memory, predicted("1", "live", 10, [0.5, 0.3, 0.2], 1))
    remember_forecast(memory, predicted("1", "live", 25, [0.6, 0.3, 0.1], 2))
    remember_forecast(memory, predicted("2", "live", 25, [0.4, 0.4, 0.2], 2))
    remember_forecast(memory, predicted("1", "finished", 90, [1.0, 0.0, 0.0], 3))
    assert memory.forecasts["1"]["0-29"].home == 0.6
    assert memory.forecasts["2"]["0-29"].home == 0.4
    assert set(memory.forecasts["1"]) == {"0-29"}, "the final state forecasts nothing"


def test_score_match_equals_the_offline_scorer() -> None:
    memory = MatchMemory(touched_at=NOW)
    forecasts = {("1", 10): [0.5, 0.3, 0.2], ("1", 70): [0.2, 0.2, 0.6], ("2", 10): [0.3, 0.3, 0.4]}
    for (version, minute), p in forecasts.items():
        remember_forecast(memory, predicted(version, "live", minute, p, minute))
    scores = score_match("m1", dt.date(2024, 6, 14), memory, 0, 2, NOW)
    assert outcome_of(0, 2) == 2
    by_key = {(s.model_version, s.phase): s for s in scores}
    assert set(by_key) == {("1", "0-29"), ("1", "60+"), ("2", "0-29")}
    for (version, minute), p in forecasts.items():
        offline = forecast_scores([p], [2])
        row = by_key[(version, "0-29" if minute < 30 else "60+")]
        assert (row.log_loss, row.brier, row.rps) == pytest.approx(
            (offline.log_loss[0], offline.brier[0], offline.rps[0]), abs=1e-12
        )
        assert row.outcome == "away"


def test_a_match_with_no_forecasts_scores_nothing() -> None:
    assert score_match("m1", dt.date(2024, 6, 14), MatchMemory(touched_at=NOW), 1, 0, NOW) == []


def test_a_forecast_of_an_older_state_does_not_replace_a_newer_one() -> None:
    """The two agents remember forecasts of one match in either order."""
    memory = MatchMemory(touched_at=NOW)
    remember_forecast(memory, predicted("1", "live", 25, [0.6, 0.3, 0.1], seq=5))
    remember_forecast(memory, predicted("1", "live", 20, [0.5, 0.3, 0.2], seq=4))
    assert memory.forecasts["1"]["0-29"].seq == 5
    remember_forecast(memory, predicted("1", "live", 25, [0.7, 0.2, 0.1], seq=5))
    assert memory.forecasts["1"]["0-29"].home == 0.7, "the same state again: the later wins"

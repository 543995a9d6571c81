"""Forecasts scored against a result: the phases, the outcome, and log-loss, Brier and RPS
worked by hand; the total-goals RPS of a forecast with expected goals."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from scipy.stats import poisson

from schemas import Forecast, phase_of
from schemas.prediction import ExpectedGoals
from streams.read_models.scoring import outcome_of, score_slots
from tests.factories import READ_AT, result

NOW = dt.datetime(2024, 6, 14, 22, tzinfo=dt.UTC)


def forecast(home: float, draw: float, away: float, minute: int = 10) -> Forecast:
    return Forecast(home=home, draw=draw, away=away, minute=minute, seq=minute, at=READ_AT)


@pytest.mark.parametrize(
    ("status", "minute", "phase"),
    [
        ("scheduled", 0, "pre"),
        ("live", 0, "0-29"),
        ("live", 29, "0-29"),
        ("live", 30, "30-59"),
        ("halftime", 45, "30-59"),
        ("live", 59, "30-59"),
        ("live", 60, "60+"),
        ("live", 118, "60+"),
        ("finished", 90, None),
    ],
)
def test_phases(status: str, minute: int, phase: str | None) -> None:
    assert phase_of(status, minute) == phase  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("home_goals", "away_goals", "outcome"), [(2, 1, 0), (1, 1, 1), (0, 0, 1), (0, 2, 2)]
)
def test_outcomes(home_goals: int, away_goals: int, outcome: int) -> None:
    assert outcome_of(home_goals, away_goals) == outcome


# Worked by hand, for outcome o (one-hot y) and p = (home, draw, away):
#   log-loss = -ln p[o]
#   Brier    = sum (p_i - y_i)^2
#   RPS      = ((p_h - y_h)^2 + (p_h + p_d - y_h - y_d)^2) / 2
HAND_WORKED = [
    # Away win (y = 0, 0, 1).
    # (0.5, 0.3, 0.2): Brier 0.25 + 0.09 + 0.64 = 0.98; RPS (0.5^2 + 0.8^2) / 2 = 0.445.
    ((0.5, 0.3, 0.2), (0, 2), "away", -math.log(0.2), 0.98, 0.445),
    # (0.2, 0.2, 0.6): Brier 0.04 + 0.04 + 0.16 = 0.24; RPS (0.2^2 + 0.4^2) / 2 = 0.1.
    ((0.2, 0.2, 0.6), (0, 2), "away", -math.log(0.6), 0.24, 0.1),
    # Home win (y = 1, 0, 0).
    # (0.25, 0.25, 0.5): Brier 0.5625 + 0.0625 + 0.25 = 0.875;
    # RPS ((0.25 - 1)^2 + (0.5 - 1)^2) / 2 = (0.5625 + 0.25) / 2 = 0.40625.
    ((0.25, 0.25, 0.5), (3, 1), "home", 2 * math.log(2), 0.875, 0.40625),
    # Draw (y = 0, 1, 0).
    # (0.4, 0.4, 0.2): Brier 0.16 + 0.36 + 0.04 = 0.56; RPS (0.4^2 + (0.8 - 1)^2) / 2 = 0.1.
    ((0.4, 0.4, 0.2), (1, 1), "draw", -math.log(0.4), 0.56, 0.1),
    # A certain, right forecast scores 0 on all three.
    ((1.0, 0.0, 0.0), (1, 0), "home", 0.0, 0.0, 0.0),
]


@pytest.mark.parametrize(("p", "score", "outcome", "log_loss", "brier", "rps"), HAND_WORKED)
def test_scores_are_the_hand_worked_numbers(
    p: tuple[float, float, float],
    score: tuple[int, int],
    outcome: str,
    log_loss: float,
    brier: float,
    rps: float,
) -> None:
    final = result(home_goals=score[0], away_goals=score[1])
    (scored,) = score_slots(final, {("7", "0-29"): forecast(*p)}, [("7", "0-29")], NOW)
    assert scored.outcome == outcome
    assert (scored.log_loss, scored.brier, scored.rps) == pytest.approx(
        (log_loss, brier, rps), abs=1e-12
    )
    assert (scored.home, scored.draw, scored.away) == p
    assert (scored.match_id, scored.model_version, scored.phase) == ("m1", "7", "0-29")
    assert (scored.date, scored.scored_at) == (dt.date(2024, 6, 14), NOW)
    assert scored.key == "m1|7|0-29"


def test_a_zero_probability_for_what_happened_is_finite() -> None:
    final = result(home_goals=0, away_goals=1)
    (scored,) = score_slots(final, {("7", "pre"): forecast(1.0, 0.0, 0.0)}, [("7", "pre")], NOW)
    # Clipped at 1e-15 before the log: -ln(1e-15) = 15 ln 10 = 34.538776394910684.
    assert scored.log_loss == pytest.approx(15 * math.log(10), rel=1e-9)
    # Brier 1 + 0 + 1 = 2 (the worst); RPS (1^2 + 1^2) / 2 = 1 (the worst).
    assert (scored.brier, scored.rps) == pytest.approx((2.0, 1.0), abs=1e-12)


def test_only_the_chosen_slots_that_have_a_forecast_are_scored_in_version_phase_order() -> None:
    forecasts = {
        ("7", "60+"): forecast(0.2, 0.2, 0.6, 70),
        ("10", "0-29"): forecast(0.5, 0.3, 0.2),
        ("7", "0-29"): forecast(0.5, 0.3, 0.2),
    }
    chosen = [("7", "60+"), ("7", "0-29"), ("10", "0-29"), ("7", "pre")]  # "pre": none
    scores = score_slots(result(home_goals=0, away_goals=2), forecasts, chosen, NOW)
    assert [(s.model_version, s.phase) for s in scores] == [
        ("10", "0-29"),
        ("7", "0-29"),
        ("7", "60+"),
    ]
    assert scores[2].log_loss == pytest.approx(-math.log(0.6), abs=1e-12)
    assert score_slots(result(), forecasts, [("7", "30-59")], NOW) == []
    assert score_slots(result(), {}, [("7", "0-29")], NOW) == []


def goals_forecast(
    home_goals: int, away_goals: int, expected: tuple[float, float], minute: int = 50
) -> Forecast:
    return Forecast(
        home=0.5,
        draw=0.3,
        away=0.2,
        minute=minute,
        seq=minute,
        at=READ_AT,
        home_goals=home_goals,
        away_goals=away_goals,
        expected_goals=ExpectedGoals(home=expected[0], away=expected[1]),
    )


def test_a_forecast_with_expected_goals_scores_the_final_total() -> None:
    # Made at 1-0 expecting 1.5-0 at the end: 0.5 home goals to come, none away, so the
    # total to come is Poisson(0.5). The match ended 2-0: one goal came. Undivided RPS:
    #   F(0)^2 + sum over k >= 1 of (1 - F(k))^2, F the Poisson(0.5) CDF
    #   = e^-1 + (1 - 1.5 e^-0.5)^2 + (1 - 1.625 e^-0.5)^2 + ...
    #   = 0.367879 + 0.008137 + 0.000207 + 0.000003 + ... = 0.376226.
    # The oracle is scipy's Poisson CDF.
    expected = poisson.cdf(0, 0.5) ** 2 + sum((1 - poisson.cdf(k, 0.5)) ** 2 for k in range(1, 40))
    assert expected == pytest.approx(0.376226, abs=1e-6)
    slot = ("7", "30-59")
    (scored,) = score_slots(
        result(home_goals=2, away_goals=0), {slot: goals_forecast(1, 0, (1.5, 0.0))}, [slot], NOW
    )
    assert scored.goals_rps == pytest.approx(expected, abs=1e-9)


def test_a_certain_goals_forecast_scores_how_many_goals_it_was_off() -> None:
    # At 2-1 expecting 2-1: nothing to come, the total is certainly 3. A final of 3 scores
    # 0; a final of 2-2 is one goal off: (F(3) - 1[4 <= 3])^2 = 1 for the one k between.
    slot = ("7", "60+")
    forecasts = {slot: goals_forecast(2, 1, (2.0, 1.0), minute=85)}
    (right,) = score_slots(result(home_goals=2, away_goals=1), forecasts, [slot], NOW)
    (off,) = score_slots(result(home_goals=2, away_goals=2), forecasts, [slot], NOW)
    assert right.goals_rps == pytest.approx(0.0, abs=1e-12)
    assert off.goals_rps == pytest.approx(1.0, abs=1e-12)


def test_a_forecast_without_expected_goals_scores_as_before() -> None:
    forecasts = {
        ("7", "pre"): forecast(0.5, 0.3, 0.2),  # an older model: no goals
        ("8", "pre"): goals_forecast(0, 0, (2.0, 1.0), minute=0),
    }
    old, new = score_slots(result(), forecasts, list(forecasts), NOW)
    assert (old.model_version, old.goals_rps) == ("7", None)
    assert old.log_loss == pytest.approx(-math.log(0.5), abs=1e-12)
    assert new.model_version == "8" and new.goals_rps is not None and new.goals_rps > 0

"""The in-play evaluation by phase: which checkpoint falls in which phase, the scores of
one phase, and the printed table (the fitting itself is exercised in
``tests/integration/models/test_cli_train_evaluate.py``)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from models.evaluation import (
    PREDICTORS,
    EvaluationReport,
    PhaseScores,
    calibration_floor,
    checkpoint_phase,
    format_report,
    phase_scores,
)
from models.states import CHECKPOINTS
from models.training import Scores, recency_weights


def test_checkpoints_fall_in_the_live_boards_phases() -> None:
    assert {m: checkpoint_phase(m) for m in CHECKPOINTS} == {
        0: "pre",
        15: "0-29",
        30: "30-59",
        45: "30-59",
        60: "60+",
        75: "60+",
        90: "60+",
    }


def test_phase_scores_by_hand() -> None:
    # Home won with (0.5, 0.3, 0.2): log-loss -ln 0.5, RPS ((0.5-1)^2 + (0.8-1)^2)/2 = 0.145.
    # Draw with (0.2, 0.3, 0.5): log-loss -ln 0.3, RPS (0.2^2 + (0.5-1)^2)/2 = 0.145.
    # ECE: home has 0.5 (bin 5, happened) and 0.2 (bin 2, not): (0.5 + 0.2) / 2 = 0.35;
    # draw has 0.3, 0.3 (bin 3, 1 of 2): |0.6 - 1| / 2 = 0.2; away has 0.2 (bin 2, not) and
    # 0.5 (bin 5, not): (0.2 + 0.5) / 2 = 0.35. Mean (0.35 + 0.2 + 0.35) / 3 = 0.3.
    scores = phase_scores(np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]]), np.array([0, 1]))
    assert scores.n == 2
    assert scores.log_loss == pytest.approx(-(math.log(0.5) + math.log(0.3)) / 2)
    assert scores.rps == pytest.approx(0.145)
    assert scores.ece == pytest.approx(0.3)


def test_the_ece_floor_is_the_error_of_outcomes_drawn_from_the_forecasts() -> None:
    # Certain forecasts: the drawn outcome is always the forecast one, ECE 0.
    assert calibration_floor(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])) == 0.0
    # One forecast (0.5, 0.5, 0): home or draw happens; either way home and draw are each
    # 0.5 off and away 0, so every draw has ECE (0.5 + 0.5 + 0) / 3.
    assert calibration_floor(np.array([[0.5, 0.5, 0.0]])) == pytest.approx(1 / 3)
    # Two such forecasts: home happens 0, 1 or 2 times (1/4, 1/2, 1/4), ECE 1/3, 0, 1/3:
    # expected 1/6 (4,000 draws: standard error 0.0026).
    two = calibration_floor(np.array([[0.5, 0.5, 0.0]] * 2), draws=4000)
    assert two == pytest.approx(1 / 6, abs=0.015)


def _scores(log_loss: float) -> Scores:
    return Scores(log_loss=log_loss, brier=0.5, rps=0.2, accuracy=0.5, n=10)


def test_the_report_prints_every_predictor_in_every_phase() -> None:
    report = EvaluationReport(
        holdout_from=dt.date(2023, 1, 1),
        holdout_to=dt.date(2024, 12, 31),
        train_matches=100,
        holdout_matches=10,
        model=_scores(0.9),
        base_rates=_scores(1.0),
        elo_logistic=_scores(0.95),
        inplay_matches=5,
        inplay={0: _scores(0.9), 15: _scores(0.85)},
        by_phase={
            "pre": {
                name: PhaseScores(n=5, log_loss=0.9, rps=0.2, ece=0.03, ece_floor=0.02)
                for name in PREDICTORS
            },
            "0-29": {
                name: PhaseScores(n=5, log_loss=0.8, rps=0.1875, ece=0.0125, ece_floor=0.0250)
                for name in PREDICTORS
            },
        },
    )
    lines = format_report(report).splitlines()
    assert "phase   predictor              rows  log-loss     RPS     ECE  ECE floor" in lines
    assert "0-29    Elo-only logistic         5    0.8000  0.1875  0.0125     0.0250" in lines
    assert sum(line.startswith(("pre ", "0-29 ")) for line in lines) == 2 * len(PREDICTORS)
    text = "\n".join(lines)
    assert "checkpoint minutes: pre 0 | 0-29 15" in text
    assert "naive in-play baseline" in text


def test_recency_weights_fall_by_e_every_fifteen_years() -> None:
    newest = pd.Timestamp("2022-12-31")
    # 5,479 days is 15.0005 years of 365.25 days.
    dates = pd.Series([newest, newest - pd.Timedelta(days=5479), newest])
    np.testing.assert_allclose(recency_weights(dates), [1.0, math.exp(-1.0), 1.0], rtol=1e-4)

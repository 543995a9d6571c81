"""Time-split evaluation of the model against two baselines, and in-play by minute.

Run ``python -m models evaluate --data data/international_results``. Everything is
fitted on matches before ``holdout_from`` and scored on the holdout; team ratings and form
keep updating through the holdout (each row still only sees earlier dates).

In play, the rows are the states of the holdout matches with complete goal minutes at the
checkpoint minutes (``models.states.CHECKPOINTS``), grouped in the phases the live board
scores (``schemas.PHASES``, by ``schemas.phase_of``): minute 0 is the pre-match row, the
others are live states. Every predictor is scored in every phase, with the expected
calibration error (``models.scoring.expected_calibration_error``) beside log-loss and RPS.
The two baselines are pre-match predictors: at an in-play row they give the match's
pre-match probabilities, which is the naive in-play baseline (the clock and score ignored).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.linear_model import LogisticRegression

from models.data import MatchData
from models.elo import SCALE, rating_gap
from models.features import LABEL_COLUMN
from models.scoring import CALIBRATION_BINS, calibration_sums, expected_calibration_error
from models.states import CHECKPOINTS
from models.training import Scores, build_dataset, fit_model, score, score_rows
from schemas import OUTCOMES, PHASES, Phase, phase_of

TRAIN_UNTIL: Final = dt.date(2022, 12, 31)
HOLDOUT_FROM: Final = dt.date(2023, 1, 1)
HOLDOUT_TO: Final = dt.date(2024, 12, 31)
#: The predictors of the report, in its order.
PREDICTORS: Final = ("model", "base rates", "Elo-only logistic")
#: Draws of outcomes behind an ECE floor, and their seed (the report is reproducible).
FLOOR_DRAWS: Final = 200
FLOOR_SEED: Final = 0


class PhaseScores(BaseModel):
    """One predictor's scores on the in-play rows of one phase."""

    n: int = Field(description="Rows scored.")
    log_loss: float
    rps: float
    ece: float = Field(
        description=f"Class-wise expected calibration error over {CALIBRATION_BINS} bins."
    )
    ece_floor: float = Field(
        description="The mean ECE of the same forecasts when the outcomes are drawn from "
        "them: what a perfectly calibrated predictor scores on this many rows, from "
        "sampling noise alone."
    )


class EvaluationReport(BaseModel):
    """Pre-match scores of three predictors on one holdout, and the model's in-play scores."""

    holdout_from: dt.date
    holdout_to: dt.date | None
    train_matches: int
    holdout_matches: int
    model: Scores
    base_rates: Scores
    elo_logistic: Scores
    inplay_matches: int = Field(description="Holdout matches with complete goal minutes.")
    inplay: dict[int, Scores] = Field(description="Model scores by minute on those matches.")
    by_phase: dict[Phase, dict[str, PhaseScores]] = Field(
        default_factory=dict,
        description="Each predictor's scores by phase on those matches' checkpoint rows.",
    )


def _gap(frame: pd.DataFrame) -> np.ndarray:
    gap = rating_gap(frame["home_elo"], frame["away_elo"], frame["neutral"].astype(float))
    return (gap / SCALE).reshape(-1, 1)


def checkpoint_phase(minute: int) -> Phase | None:
    """The phase of a checkpoint row: minute 0 is the pre-match row (``pre``), every other
    checkpoint a live state of its minute (minute 90 the last one, before the whistle)."""
    return phase_of("scheduled" if minute == 0 else "live", minute)


def calibration_floor(proba: np.ndarray, draws: int = FLOOR_DRAWS, seed: int = FLOOR_SEED) -> float:
    """The mean ECE of ``proba`` against outcomes drawn from ``proba`` itself (each row
    independently): the ECE a perfectly calibrated predictor shows on these rows. Rows of
    one match share its outcome, so where a match has several rows the true floor is
    higher than this."""
    cumulative = np.cumsum(proba, axis=1)[:, :-1]
    u = np.random.default_rng(seed).random((draws, len(proba), 1))
    outcomes = (u > cumulative).sum(axis=2)
    eces = [expected_calibration_error(calibration_sums(proba, drawn)) for drawn in outcomes]
    return float(np.mean([e for e in eces if e is not None]))


def phase_scores(proba: np.ndarray, labels: np.ndarray) -> PhaseScores:
    scores = score(proba, labels)
    ece = expected_calibration_error(calibration_sums(proba, labels))
    assert ece is not None  # score() refused an empty set already
    return PhaseScores(
        n=scores.n,
        log_loss=scores.log_loss,
        rps=scores.rps,
        ece=ece,
        ece_floor=calibration_floor(proba),
    )


def evaluate(
    data: MatchData,
    holdout_from: dt.date = HOLDOUT_FROM,
    holdout_to: dt.date | None = HOLDOUT_TO,
) -> EvaluationReport:
    """Fit on matches before ``holdout_from``; score on ``holdout_from``..``holdout_to``."""
    dataset = build_dataset(data, holdout_from, holdout_to)
    train, holdout = dataset.train_rows, dataset.holdout_rows
    train_pre = train[train["row_kind"] == "pre"]
    holdout_pre = holdout[holdout["row_kind"] == "pre"]
    y_train = train_pre[LABEL_COLUMN].to_numpy()
    y_holdout = holdout_pre[LABEL_COLUMN].to_numpy()

    model = fit_model(train)
    base = np.bincount(y_train, minlength=len(OUTCOMES)) / len(y_train)
    elo = LogisticRegression(max_iter=1000).fit(_gap(train_pre), y_train)

    checkpoints = dataset.holdout_checkpoints
    proba = model.predict_proba(checkpoints) if len(checkpoints) else np.empty((0, 3))
    inplay = {
        minute: score(proba[mask], checkpoints.loc[mask, LABEL_COLUMN].to_numpy())
        for minute in CHECKPOINTS
        if (mask := (checkpoints["minute"] == minute).to_numpy()).any()
    }
    by_phase: dict[Phase, dict[str, PhaseScores]] = {}
    if len(checkpoints):
        labels = checkpoints[LABEL_COLUMN].to_numpy()
        predicted = dict(
            zip(
                PREDICTORS,
                (proba, np.tile(base, (len(labels), 1)), elo.predict_proba(_gap(checkpoints))),
                strict=True,
            )
        )
        phases = np.array([checkpoint_phase(int(m)) for m in checkpoints["minute"]])
        by_phase = {
            phase: {name: phase_scores(p[mask], labels[mask]) for name, p in predicted.items()}
            for phase in PHASES
            if (mask := phases == phase).any()
        }
    return EvaluationReport(
        holdout_from=holdout_from,
        holdout_to=holdout_to,
        train_matches=len(train_pre),
        holdout_matches=len(holdout_pre),
        model=score_rows(model, holdout_pre),
        base_rates=score(np.tile(base, (len(y_holdout), 1)), y_holdout),
        elo_logistic=score(elo.predict_proba(_gap(holdout_pre)), y_holdout),
        inplay_matches=int(checkpoints["match_id"].nunique()),
        inplay=inplay,
        by_phase=by_phase,
    )


def format_report(report: EvaluationReport) -> str:
    """The report as a plain-text table."""
    until = report.holdout_to.isoformat() if report.holdout_to else "end"
    lines = [
        f"Pre-match, holdout {report.holdout_from}..{until}: {report.holdout_matches} matches "
        f"(trained on {report.train_matches} earlier matches; ratings keep updating "
        "through the holdout, each match sees only earlier dates)",
        f"{'predictor':<24}{'log-loss':>10}{'Brier':>8}{'accuracy':>10}",
    ]
    for name, scores in zip(
        PREDICTORS, (report.model, report.base_rates, report.elo_logistic), strict=True
    ):
        lines.append(
            f"{name:<24}{scores.log_loss:>10.4f}{scores.brier:>8.4f}{scores.accuracy:>10.3f}"
        )
    lines += [
        "",
        f"In-play, model, {report.inplay_matches} holdout matches with complete goal minutes",
        f"{'minute':<24}{'log-loss':>10}{'Brier':>8}{'accuracy':>10}",
    ]
    for minute, scores in report.inplay.items():
        lines.append(
            f"{minute:<24}{scores.log_loss:>10.4f}{scores.brier:>8.4f}{scores.accuracy:>10.3f}"
        )
    return "\n".join([*lines, *_phase_lines(report)])


def _phase_lines(report: EvaluationReport) -> list[str]:
    if not report.by_phase:
        return []
    minutes = " | ".join(
        f"{phase} {', '.join(str(m) for m in CHECKPOINTS if checkpoint_phase(m) == phase)}"
        for phase in report.by_phase
    )
    lines = [
        "",
        f"In-play by phase, the same {report.inplay_matches} matches; checkpoint minutes: "
        f"{minutes}",
        "The baselines are pre-match predictors: at every in-play row they give the match's "
        "pre-match probabilities (the naive in-play baseline).",
        f"ECE: class-wise expected calibration error, {CALIBRATION_BINS} equal-width bins "
        "(the mean over home, draw, away of sum (n_bin/N)|mean predicted - observed|).",
        f"ECE floor: the mean ECE of the same forecasts over {FLOOR_DRAWS} draws of outcomes "
        "from the forecasts themselves (a perfectly calibrated predictor, sampling noise only).",
        f"{'phase':<8}{'predictor':<20}{'rows':>7}{'log-loss':>10}{'RPS':>8}{'ECE':>8}"
        f"{'ECE floor':>11}",
    ]
    for phase, predictors in report.by_phase.items():
        for name, s in predictors.items():
            lines.append(
                f"{phase:<8}{name:<20}{s.n:>7}{s.log_loss:>10.4f}{s.rps:>8.4f}{s.ece:>8.4f}"
                f"{s.ece_floor:>11.4f}"
            )
    return lines

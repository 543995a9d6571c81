"""Time-split evaluation of the model against two baselines, and in-play by minute.

Run ``python -m models evaluate --data data/international_results``. Everything is
fitted on matches before ``holdout_from`` and scored on the holdout; team ratings and form
keep updating through the holdout (each row still only sees earlier dates).
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
from models.states import CHECKPOINTS
from models.training import Scores, build_dataset, fit_model, score, score_rows
from schemas import OUTCOMES

TRAIN_UNTIL: Final = dt.date(2022, 12, 31)
HOLDOUT_FROM: Final = dt.date(2023, 1, 1)
HOLDOUT_TO: Final = dt.date(2024, 12, 31)


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


def _gap(frame: pd.DataFrame) -> np.ndarray:
    gap = rating_gap(frame["home_elo"], frame["away_elo"], frame["neutral"].astype(float))
    return (gap / SCALE).reshape(-1, 1)


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
    for name, scores in (
        ("model", report.model),
        ("base rates", report.base_rates),
        ("Elo-only logistic", report.elo_logistic),
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
    return "\n".join(lines)

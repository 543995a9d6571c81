"""From match data to a fitted model and its holdout scores (no MLflow here: see ``models.run``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.pipeline import Pipeline

from models.data import DataError, MatchData
from models.features import LABEL_COLUMN, FeatureHistory, compute_features
from models.pipeline import build_pipeline
from models.scoring import forecast_scores
from models.states import checkpoint_rows, inplay_eligible, state_rows
from schemas.features import MODEL_INPUT_COLUMNS


class Scores(BaseModel):
    """Probabilistic scores of home/draw/away predictions against outcomes."""

    log_loss: float = Field(description="Mean negative log-likelihood of the outcome (nats).")
    brier: float = Field(description="Mean squared error over the 3 outcomes (0 best, 2 worst).")
    rps: float = Field(description="Mean ranked probability score (0 best, 1 worst).")
    accuracy: float = Field(description="Share of rows whose most likely outcome happened.")
    n: int = Field(description="Rows scored.")


def score(proba: np.ndarray, labels: np.ndarray) -> Scores:
    """Scores of (N, 3) probabilities against labels in 0..2 (the order of ``OUTCOMES``)."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        raise ValueError("nothing to score")
    each = forecast_scores(proba, labels)
    return Scores(
        log_loss=float(each.log_loss.mean()),
        brier=float(each.brier.mean()),
        rps=float(each.rps.mean()),
        accuracy=float(np.mean(np.argmax(np.asarray(proba), axis=1) == labels)),
        n=len(labels),
    )


@dataclass(frozen=True)
class Dataset:
    """Features of every match and model rows split at ``holdout_from``.

    Ratings and form keep updating through the holdout: each holdout row still uses only
    matches on earlier dates, exactly what serving would have had on the day.
    """

    history: FeatureHistory
    rows: pd.DataFrame  # MODEL_INPUT_COLUMNS + states.META_COLUMNS
    checkpoints: pd.DataFrame  # one row per eligible match and checkpoint minute
    holdout_from: pd.Timestamp
    holdout_to: pd.Timestamp | None = None

    def holdout_mask(self, frame: pd.DataFrame) -> pd.Series:
        mask = frame["date"] >= self.holdout_from
        if self.holdout_to is not None:
            mask &= frame["date"] <= self.holdout_to
        return mask

    @property
    def train_rows(self) -> pd.DataFrame:
        return self.rows[self.rows["date"] < self.holdout_from]

    @property
    def holdout_rows(self) -> pd.DataFrame:
        return self.rows[self.holdout_mask(self.rows)]

    @property
    def holdout_checkpoints(self) -> pd.DataFrame:
        return self.checkpoints[self.holdout_mask(self.checkpoints)]


def default_holdout_from(results: pd.DataFrame) -> pd.Timestamp:
    """1 January of the year before the last match (the real data: 2023-01-01), or, when
    that would leave less than half the matches for training, the date 80% of the way."""
    dates = results["date"].sort_values(ignore_index=True)
    start = pd.Timestamp(year=int(dates.iloc[-1].year) - 1, month=1, day=1)
    if (dates < start).mean() >= 0.5:
        return start
    return dates.iloc[int(len(dates) * 0.8)]


def build_dataset(
    data: MatchData,
    holdout_from: dt.date | None = None,
    holdout_to: dt.date | None = None,
) -> Dataset:
    """Features and model rows for all matches, split by date for training and holdout."""
    history = compute_features(data.results)
    goals = data.goals_by_match()
    eligible = inplay_eligible(history.prematch, data.goals)
    rows = state_rows(history.prematch, goals, eligible)
    checkpoints = checkpoint_rows(history.prematch, goals, eligible)
    start = (
        pd.Timestamp(holdout_from)
        if holdout_from is not None
        else default_holdout_from(data.results)
    )
    end = pd.Timestamp(holdout_to) if holdout_to is not None else None
    dataset = Dataset(history, rows, checkpoints, start, end)
    n_train = int((history.prematch["date"] < start).sum())
    n_holdout = int(dataset.holdout_mask(history.prematch).sum())
    if n_train == 0 or n_holdout == 0:
        first, last = data.results["date"].min().date(), data.results["date"].max().date()
        raise DataError(
            f"holdout from {start.date()} leaves {n_train} training and {n_holdout} holdout "
            f"matches; the data runs {first}..{last}"
        )
    return dataset


#: Training rows weigh exp(-age / RECENCY_YEARS), the age counted back from the newest row:
#: the game drifts (home advantage has shrunk), and a match of 15 years ago counts e^-1 of
#: one of today. Chosen on matches before 2021, checked on 2021-2022 (docs/model.md).
RECENCY_YEARS: Final = 15.0


def recency_weights(dates: pd.Series) -> np.ndarray:
    """Each row's training weight from its date (see ``RECENCY_YEARS``)."""
    days = (dates.max() - dates).dt.days.to_numpy(np.float64)
    return np.exp(-days / 365.25 / RECENCY_YEARS)


def fit_model(train_rows: pd.DataFrame) -> Pipeline:
    """Fit the model pipeline on rows with ``MODEL_INPUT_COLUMNS``, ``outcome`` and
    ``date`` (recent rows weigh more: ``RECENCY_YEARS``)."""
    return build_pipeline().fit(
        train_rows[list(MODEL_INPUT_COLUMNS)],
        train_rows[LABEL_COLUMN].to_numpy(),
        classify__sample_weight=recency_weights(train_rows["date"]),
    )


def score_rows(model: Pipeline, rows: pd.DataFrame) -> Scores:
    """Scores of ``model`` (anything with ``predict_proba``) on model rows."""
    proba = model.predict_proba(rows[list(MODEL_INPUT_COLUMNS)])
    return score(proba, rows[LABEL_COLUMN].to_numpy())

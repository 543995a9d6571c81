"""The model: raw ``MODEL_INPUT_COLUMNS`` in, home/draw/away probabilities out.

Everything computed from the raw columns lives here, inside the logged model, so training and
serving run the same code on the same columns and cannot drift apart. Two steps:

1. :class:`DerivedFeatures` turns the raw frame into numbers: the Elo rating gap with home
   advantage, tournament weight from its name, form and goal-average differences, and the
   live state (minute, goal difference, time left).
2. :class:`OutcomeClassifier` is two multinomial logistic regressions. The first predicts
   the result from the pre-match features only, fitted on pre-match rows. Its prediction is
   turned into the goal supremacy a Poisson model would need to give the same edge, and the
   Poisson model says how the current score may still change in the time left. The second
   regression, fitted on all rows, calibrates those in-play Poisson probabilities against
   the pre-match ones and the clock. A boosted tree on the same features did worse: each
   match gives up to a dozen rows with one label, and trees memorise matches.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Final, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from models.elo import SCALE, expected_score, rating_gap
from models.goal_ratings import goal_rates
from models.skellam import skellam_cdf
from models.timeline import FULL_TIME
from models.tournaments import tournament_weights
from schemas import OUTCOMES
from schemas.features import MODEL_INPUT_COLUMNS, NUMERIC_INPUT_COLUMNS

PREMATCH_FEATURES: Final = (
    "rating_gap",
    "expected_score",
    "gap_x_weight",
    "tournament_weight",
    "friendly",
    "neutral",
    "form_diff",
    "goals_for_diff",
    "goals_against_diff",
    "home_form",
    "away_form",
    "log_played_min",
    "log_played_diff",
    # The goals model (models.goal_ratings): each side's expected goals from the attack and
    # defence ratings, and the home/draw/away log-probabilities those Poisson rates give.
    "log_rate_home",
    "log_rate_away",
    "goals_home",
    "goals_draw",
    "goals_away",
)
# Red cards are in the input but not here: the historical data has none, so no weight could
# be learned for them (documented limitation).
STATE_FEATURES: Final = ("minute", "time_left", "goal_diff", "total_goals")
DERIVED_FEATURES: Final = (*PREMATCH_FEATURES, *STATE_FEATURES)
_PRE = slice(0, len(PREMATCH_FEATURES))
_MINUTE, _TIME_LEFT, _GOAL_DIFF, _TOTAL = (DERIVED_FEATURES.index(n) for n in STATE_FEATURES)
_RATE_HOME, _RATE_AWAY = (DERIVED_FEATURES.index(n) for n in ("log_rate_home", "log_rate_away"))

GOALS_PER_SIDE: Final = 1.3  # goals per side between equal teams, international average
_EPS: Final = 1e-9


NUMERIC_INPUT: Final = NUMERIC_INPUT_COLUMNS
_NUMERIC_AT: Final = {name: i for i, name in enumerate(NUMERIC_INPUT)}
_NUMERIC_POSITIONS: Final = [MODEL_INPUT_COLUMNS.index(name) for name in NUMERIC_INPUT]


def numeric_block(raw: pd.DataFrame, errors: Literal["coerce", "raise"] = "coerce") -> np.ndarray:
    """(N, len(NUMERIC_INPUT)) float64 of the numeric input columns, NaN where missing;
    text in them is NaN (``errors="coerce"``) or a ValueError (``"raise"``).

    One conversion of the whole block (by position when the frame has exactly the model's
    columns, as serving and training frames do): per-column access costs more than the
    model on a small batch.
    """
    exact = tuple(raw.columns) == MODEL_INPUT_COLUMNS
    block = raw.iloc[:, _NUMERIC_POSITIONS] if exact else raw.loc[:, list(NUMERIC_INPUT)]
    try:
        return block.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):  # text in a numeric column: parse column by column
        return np.column_stack(
            [
                pd.to_numeric(block[name], errors=errors).to_numpy(np.float64, na_value=np.nan)
                for name in NUMERIC_INPUT
            ]
        )


def derive_features(raw: pd.DataFrame) -> np.ndarray:
    """(N, len(DERIVED_FEATURES)) floats from a frame with ``MODEL_INPUT_COLUMNS``."""
    return derive_from(numeric_block(raw), raw["tournament"])


def derive_from(numbers: np.ndarray, tournament: Iterable[object]) -> np.ndarray:
    """:func:`derive_features` of the numeric block and the tournament names."""

    def col(name: str) -> np.ndarray:
        return numbers[:, _NUMERIC_AT[name]]

    neutral = np.clip(col("neutral"), 0.0, 1.0)
    gap = rating_gap(col("home_elo"), col("away_elo"), neutral)
    weight = tournament_weights(tournament)
    minute = np.clip(col("minute"), 0.0, 130.0)
    # Extra time is not modelled: after 90 minutes the score is treated as final.
    time_left = 1.0 - np.minimum(minute, FULL_TIME) / FULL_TIME
    home_played = np.log1p(np.maximum(col("home_matches_played"), 0.0))
    away_played = np.log1p(np.maximum(col("away_matches_played"), 0.0))
    rate_home, rate_away = goal_rates(
        col("home_attack"), col("home_defence"), col("away_attack"), col("away_defence"), neutral
    )
    goals = np.log(_poisson_outcome(rate_home, rate_away, np.zeros_like(rate_home)))
    return np.column_stack(
        [
            gap / SCALE,
            expected_score(gap),
            gap / SCALE * weight / 60.0,
            weight,
            (weight <= 20.0).astype(np.float64),
            neutral,
            col("home_form") - col("away_form"),
            col("home_goals_for") - col("away_goals_for"),
            col("home_goals_against") - col("away_goals_against"),
            col("home_form"),
            col("away_form"),
            np.minimum(home_played, away_played),
            home_played - away_played,
            np.log(rate_home),
            np.log(rate_away),
            goals,
            minute,
            time_left,
            col("home_goals") - col("away_goals"),
            col("home_goals") + col("away_goals"),
        ]
    )


class DerivedFeatures(TransformerMixin, BaseEstimator):
    """Stateless sklearn step wrapping :func:`derive_features`."""

    def fit(self, x: pd.DataFrame, y: object = None) -> DerivedFeatures:
        missing = [c for c in MODEL_INPUT_COLUMNS if c not in x.columns]
        if missing:
            raise ValueError(f"model input lacks column(s) {', '.join(missing)}")
        return self

    def transform(self, x: pd.DataFrame) -> np.ndarray:
        return derive_features(x)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(DERIVED_FEATURES, dtype=object)


def _poisson_outcome(
    to_come_home: np.ndarray, to_come_away: np.ndarray, goal_diff: np.ndarray
) -> np.ndarray:
    """(N, 3) P(home, draw, away) if each side's goals to come are Poisson with these means."""
    mu_home = np.maximum(to_come_home, _EPS)
    mu_away = np.maximum(to_come_away, _EPS)
    # Final difference = goal_diff + (home goals to come - away goals to come).
    p_away = skellam_cdf(-goal_diff - 1, mu_home, mu_away)
    p_not_home = skellam_cdf(-goal_diff, mu_home, mu_away)
    return np.clip(np.column_stack([1.0 - p_not_home, p_not_home - p_away, p_away]), _EPS, 1.0)


def _to_come(
    supremacy: np.ndarray, level: np.ndarray | float, time_left: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each side's expected goals in the time left: ``level`` goals a side a match, split
    by the supremacy (the log ratio of the two rates)."""
    return level * np.exp(supremacy / 2) * time_left, level * np.exp(-supremacy / 2) * time_left


def _skellam_outcome(
    supremacy: np.ndarray, goal_diff: np.ndarray, time_left: np.ndarray
) -> np.ndarray:
    """(N, 3) P(home, draw, away) from ``supremacy`` at the average level of goals."""
    return _poisson_outcome(*_to_come(supremacy, GOALS_PER_SIDE, time_left), goal_diff)


@lru_cache(maxsize=1)
def _edge_grid() -> tuple[np.ndarray, np.ndarray]:
    # Supremacy (log rate ratio) on a grid, and the P(home) - P(away) it gives from 0-0 over
    # 90 minutes: increasing in supremacy, so np.interp inverts it.
    supremacy = np.linspace(-8.0, 8.0, 4001)
    full = _skellam_outcome(supremacy, np.zeros_like(supremacy), np.ones_like(supremacy))
    return full[:, 0] - full[:, 2], supremacy


def linear_proba(model: Pipeline, x: np.ndarray) -> np.ndarray:
    """``model.predict_proba(x)`` for a fitted StandardScaler + multinomial LogisticRegression
    pipeline, computed directly from its fitted arrays.

    sklearn's own call validates its input and resolves output wrappers on every call, which
    on a serving micro-batch costs far more than the arithmetic; the model's tests hold this
    equal to sklearn's result.
    """
    scaler, regression = model[0], model[-1]
    scaled = x
    if scaler.with_mean:
        scaled = scaled - scaler.mean_
    if scaler.with_std:
        scaled = scaled / scaler.scale_
    scores = scaled @ regression.coef_.T + regression.intercept_
    scores -= scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1, keepdims=True)
    return scores


class OutcomeClassifier(ClassifierMixin, BaseEstimator):
    """Pre-match logistic regression + Poisson in-play update + calibrating regression."""

    def __init__(self, prematch_c: float = 1.0, inplay_c: float = 1.0) -> None:
        self.prematch_c = prematch_c
        self.inplay_c = inplay_c

    def _goals_to_come(self, x: np.ndarray, pre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # The home/away split follows the blended pre-match edge (what the outcome model
        # believes); the level of goals follows the two sides' goal ratings.
        edge, grid = _edge_grid()
        supremacy = np.interp(pre[:, 0] - pre[:, 2], edge, grid)
        level = np.exp((x[:, _RATE_HOME] + x[:, _RATE_AWAY]) / 2)
        return _to_come(supremacy, level, x[:, _TIME_LEFT])

    def _inplay_features(self, x: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        pre = np.clip(linear_proba(self.prematch_, x[:, _PRE]), _EPS, 1.0)
        to_come = self._goals_to_come(x, pre)
        time_left, goal_diff = x[:, _TIME_LEFT], x[:, _GOAL_DIFF]
        log_live = np.log(_poisson_outcome(*to_come, goal_diff))
        log_pre = np.log(pre)
        features = np.column_stack(
            [
                log_live,
                log_pre,
                time_left,
                log_live * time_left[:, None],
                log_pre * time_left[:, None],
                goal_diff == 0,
                goal_diff,
                x[:, _TOTAL],
            ]
        )
        return features, to_come

    def fit(
        self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> OutcomeClassifier:
        """Fit both regressions; ``sample_weight`` (per row, optional) weighs rows in both."""
        y = np.asarray(y)
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight)
        self.classes_ = np.arange(len(OUTCOMES))
        if set(np.unique(y)) != set(self.classes_):
            raise ValueError("training rows must contain home wins, draws and away wins")
        before_kickoff = (x[:, _MINUTE] == 0) & (x[:, _TOTAL] == 0)
        self.prematch_ = make_pipeline(
            StandardScaler(), LogisticRegression(C=self.prematch_c, max_iter=3000)
        ).fit(
            x[before_kickoff][:, _PRE],
            y[before_kickoff],
            logisticregression__sample_weight=weight[before_kickoff],
        )
        self.inplay_ = make_pipeline(
            StandardScaler(), LogisticRegression(C=self.inplay_c, max_iter=3000)
        ).fit(self._inplay_features(x)[0], y, logisticregression__sample_weight=weight)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return linear_proba(self.inplay_, self._inplay_features(x)[0])

    def predict_with_goals(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) probabilities and (N, 2) each side's expected goals still to come, from
        one pass over the features."""
        features, (home, away) = self._inplay_features(x)
        return linear_proba(self.inplay_, features), np.column_stack([home, away])

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(x), axis=1)]


def build_pipeline() -> Pipeline:
    """The untrained model: derived features, then :class:`OutcomeClassifier`."""
    return Pipeline([("derive", DerivedFeatures()), ("classify", OutcomeClassifier())])

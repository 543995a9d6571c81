"""Per-forecast scores of home/draw/away probabilities against what happened.

One implementation for the offline evaluation (``models.training.score``) and the live
scoring of served predictions (``streams.read_models.scoring``), so the two report the same
numbers for the same forecasts.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from schemas import OUTCOMES

#: Probabilities are clipped to this before the logarithm: one forecast of exactly 0 for
#: what happened must not make a running mean infinite.
EPSILON = 1e-15


class ForecastScores(NamedTuple):
    """One value per forecast."""

    log_loss: np.ndarray  # -ln P(outcome)
    brier: np.ndarray  # sum over outcomes of (p - observed)^2: 0 best, 2 worst
    rps: np.ndarray  # ranked probability score, home < draw < away: 0 best, 1 worst


def forecast_scores(proba: npt.ArrayLike, labels: npt.ArrayLike) -> ForecastScores:
    """Scores of (N, 3) probabilities against labels 0..2 (the order of ``OUTCOMES``)."""
    labels = np.asarray(labels, dtype=np.int64)
    p = np.clip(np.asarray(proba, dtype=np.float64).reshape(-1, len(OUTCOMES)), EPSILON, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    observed = np.eye(len(OUTCOMES))[labels]
    cumulative = np.cumsum(p - observed, axis=1)[:, :-1]
    return ForecastScores(
        log_loss=-np.log(p[np.arange(len(labels)), labels]),
        brier=np.sum((p - observed) ** 2, axis=1),
        rps=np.sum(cumulative**2, axis=1) / (len(OUTCOMES) - 1),
    )

"""Scores of home/draw/away probabilities against what happened: per forecast, and the
calibration of many.

One implementation for the offline evaluation (``models.training.score``,
``models.evaluation``), the live scoring of served predictions
(``streams.read_models.scoring``) and the live board's calibration
(``streams.evaluation.board``), so they report the same numbers for the same forecasts.
"""

from __future__ import annotations

from typing import Final, NamedTuple

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


#: Equal-width bins of predicted probability for calibration: [0, 0.1), ..., [0.9, 1].
CALIBRATION_BINS: Final = 10


class CalibrationSums(NamedTuple):
    """Per outcome (rows, the order of ``OUTCOMES``) and bin (columns): how many forecasts
    gave that outcome a probability in the bin, those probabilities summed, and how many of
    them happened. Sums, so that a running board can add and take away one forecast."""

    forecasts: np.ndarray  # (3, bins)
    predicted: np.ndarray  # (3, bins)
    observed: np.ndarray  # (3, bins)


def calibration_bin(p: npt.ArrayLike, bins: int = CALIBRATION_BINS) -> np.ndarray:
    """The bin of each probability: ``i`` for ``[i/bins, (i+1)/bins)``, the last bin closed
    at 1."""
    return np.minimum((np.asarray(p, dtype=np.float64) * bins).astype(np.int64), bins - 1)


def calibration_sums(
    proba: npt.ArrayLike, labels: npt.ArrayLike, bins: int = CALIBRATION_BINS
) -> CalibrationSums:
    """The calibration sums of (N, 3) probabilities against labels 0..2. Probabilities are
    binned as given (not clipped or renormalised, unlike :func:`forecast_scores`)."""
    p = np.asarray(proba, dtype=np.float64).reshape(-1, len(OUTCOMES))
    observed = np.eye(len(OUTCOMES))[np.asarray(labels, dtype=np.int64)]
    where = calibration_bin(p, bins)
    shape = (len(OUTCOMES), bins)
    sums = CalibrationSums(np.zeros(shape), np.zeros(shape), np.zeros(shape))
    for k in range(len(OUTCOMES)):
        sums.forecasts[k] = np.bincount(where[:, k], minlength=bins)
        sums.predicted[k] = np.bincount(where[:, k], weights=p[:, k], minlength=bins)
        sums.observed[k] = np.bincount(where[:, k], weights=observed[:, k], minlength=bins)
    return sums


def expected_calibration_error(sums: CalibrationSums) -> float | None:
    """Class-wise expected calibration error (ECE) of the forecasts behind ``sums``; None
    when there are none.

    For each outcome k (home, draw, away), the probabilities the N forecasts gave k fall in
    equal-width bins; ECE_k = sum over bins of (n_bin / N) * |mean predicted - observed
    frequency|, which is sum over bins of |predicted sum - observed count| / N. The ECE is
    the mean of ECE_home, ECE_draw and ECE_away: 0 for perfectly calibrated forecasts, at
    most 1. Class-wise rather than top-label, so the draw (rarely the most likely outcome)
    counts as much as the favourite.
    """
    n = sums.forecasts.sum(axis=1)
    if n.min() <= 0:
        return None
    return float(np.mean(np.abs(sums.predicted - sums.observed).sum(axis=1) / n))

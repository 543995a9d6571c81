"""Is one forecaster better than another on the same matches? A paired comparison.

Scores of two forecasters on the same matches are correlated (a surprising result is
surprising to both), so their difference is judged per match: the mean of the per-match
differences and a bootstrap confidence interval of it. The interval excludes zero when
the evidence says one is better.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

BOOTSTRAP_SAMPLES = 2000


class PairedDifference(BaseModel):
    """Mean of ``a - b`` per match, with its confidence interval."""

    n: int = Field(description="Matches both forecasters scored.")
    mean_a: float = Field(description="Mean of a on those matches.")
    mean_b: float = Field(description="Mean of b on those matches.")
    mean: float = Field(description="Mean per-match difference (a minus b).")
    low: float = Field(description="Lower end of the confidence interval.")
    high: float = Field(description="Upper end of the confidence interval.")
    confidence: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def paired_difference(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    confidence: float = 0.95,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> PairedDifference:
    """The paired bootstrap of ``mean(a - b)`` (percentile interval; seeded, so the same
    scores always give the same interval)."""
    first, second = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = first - second
    if diff.ndim != 1 or len(diff) < 2:
        raise ValueError("a paired comparison needs at least two matches scored by both")
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(samples, len(diff)))].mean(axis=1)
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return PairedDifference(
        n=len(diff),
        mean_a=float(first.mean()),
        mean_b=float(second.mean()),
        mean=float(diff.mean()),
        low=float(low),
        high=float(high),
        confidence=confidence,
    )

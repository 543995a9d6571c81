"""The Skellam CDF (the difference of two Poisson counts) without ``rv_discrete``'s toll.

``scipy.stats.skellam.cdf`` checks and broadcasts its arguments through the generic
distribution machinery on every call, which on a serving micro-batch of a few rows costs
far more than the arithmetic (the in-play model calls it twice a batch). This calls the
same special functions scipy's own ``skellam._cdf`` does, so the values are the same to
the last bit; ``tests/unit/models/test_skellam.py`` holds them equal to scipy's public
function.
"""

from __future__ import annotations

import numpy as np
from scipy import special
from scipy.stats import skellam

try:  # what scipy.stats.skellam itself calls for k >= 0 in the scipy installed here
    from scipy.special._ufuncs import _ncx2_sf
except ImportError:  # pragma: no cover - a scipy without it: the public path
    _ncx2_sf = None


def skellam_cdf(k: np.ndarray, mu1: np.ndarray, mu2: np.ndarray) -> np.ndarray:
    """P(X - Y <= k) for X ~ Poisson(mu1), Y ~ Poisson(mu2), elementwise (mu1, mu2 > 0)."""
    if _ncx2_sf is None:
        return np.asarray(skellam.cdf(k, mu1, mu2), dtype="float64")
    k = np.floor(k)
    with np.errstate(over="ignore"):
        return np.where(
            k < 0,
            special.chndtr(2 * mu2, -2 * k, 2 * mu1),
            _ncx2_sf(2 * mu1, 2 * (k + 1), 2 * mu2),
        )

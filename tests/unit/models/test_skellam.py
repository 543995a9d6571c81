"""The fast Skellam CDF equals scipy's public one (the independent oracle)."""

from __future__ import annotations

import numpy as np
from scipy.stats import skellam

from models.skellam import skellam_cdf


def test_equals_scipy_over_scores_and_rates() -> None:
    k = np.arange(-12, 13, dtype="float64")
    mu = np.array([1e-9, 0.01, 0.3, 1.3, 2.7, 9.0, 40.0])
    kk, m1, m2 = np.meshgrid(k, mu, mu, indexing="ij")
    ours = skellam_cdf(kk.ravel(), m1.ravel(), m2.ravel())
    theirs = skellam.cdf(kk.ravel(), m1.ravel(), m2.ravel())
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-300)


def test_known_values_worked_by_hand() -> None:
    # Both Poisson(1): P(X - Y <= -1) = (1 - P(X = Y)) / 2 by symmetry, and
    # P(X = Y) = e^-2 * I0(2) = 0.3085083...; so 0.3457458...
    # One side at rate ~0: the difference is -Y, so P(-Y <= -1) = 1 - e^-1.
    got = skellam_cdf(np.array([-1.0, -1.0]), np.array([1.0, 1e-12]), np.array([1.0, 1.0]))
    np.testing.assert_allclose(got, [0.3457458, 1 - np.exp(-1)], rtol=1e-6)


def test_non_integer_scores_are_floored_as_scipy_does() -> None:
    got = skellam_cdf(np.array([0.7, -0.2]), np.array([1.3, 1.3]), np.array([0.9, 0.9]))
    want = skellam.cdf(np.array([0.0, -1.0]), 1.3, 0.9)
    np.testing.assert_allclose(got, want, rtol=1e-13)

"""The paired comparison of two forecasters on the same matches."""

from __future__ import annotations

import numpy as np
import pytest

from models.paired import paired_difference


def test_a_clearly_better_forecaster_is_told_apart() -> None:
    rng = np.random.default_rng(1)
    common = rng.gamma(2.0, 0.4, size=400)  # what both find hard, shared per match
    worse = common + 0.05 + rng.normal(0, 0.05, size=400)
    found = paired_difference(worse, common)
    assert found.n == 400 and found.mean == pytest.approx(0.05, abs=0.01)
    assert found.low > 0 and found.excludes_zero


def test_equal_forecasters_are_not() -> None:
    rng = np.random.default_rng(2)
    a = rng.gamma(2.0, 0.4, size=400)
    b = a + rng.normal(0, 0.05, size=400)  # noise only
    found = paired_difference(a, b)
    assert found.low < 0 < found.high and not found.excludes_zero


def test_the_interval_is_repeatable_and_needs_pairs() -> None:
    a, b = [0.1, 0.4, 0.2, 0.9], [0.2, 0.3, 0.2, 1.0]
    assert paired_difference(a, b) == paired_difference(a, b)
    with pytest.raises(ValueError, match="two matches"):
        paired_difference([0.1], [0.2])

"""Per-second rates over a sliding window from counter samples."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter

from streams.ops.rates import RollingRate, counter_totals


def test_rate_is_growth_over_the_window() -> None:
    rate = RollingRate(window=60)
    rate.observe(0, {"a": 0})
    rate.observe(10, {"a": 50})
    assert rate.rates() == {"a": 5.0}
    for t in range(11, 131):
        rate.observe(t, {"a": 50 + 2 * (t - 10)})
    # Only the last minute counts: 2 events/s, not the 5/s of the first ten seconds.
    assert rate.rates()["a"] == pytest.approx(2.0)


def test_rate_lists_requested_keys_and_handles_new_and_reset_counters() -> None:
    rate = RollingRate(window=60)
    assert rate.rates(["in", "requests"]) == {"in": 0.0, "requests": 0.0}
    rate.observe(0, {"in": 100})
    rate.observe(10, {"in": 20, "new": 30})  # "in" restarted from 0, "new" appeared
    assert rate.rates(["requests"]) == {"requests": 0.0, "in": 2.0, "new": 3.0}


def test_rate_rejects_time_going_backwards_and_bad_windows() -> None:
    rate = RollingRate()
    rate.observe(5, {})
    with pytest.raises(ValueError, match="time order"):
        rate.observe(4, {})
    with pytest.raises(ValueError, match="window"):
        RollingRate(window=0)


def test_counter_totals_reads_one_label() -> None:
    counter = Counter("x_total", "x", ["topic"], registry=CollectorRegistry())
    counter.labels(topic="a").inc(3)
    counter.labels(topic="b").inc()
    assert counter_totals(counter, "topic") == {"a": 3.0, "b": 1.0}

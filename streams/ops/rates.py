"""Per-second rates over a sliding window, from samples of cumulative counters.

The status page shows "events/s over the last minute" per topic. Prometheus computes
rates from counters on its side; this does the same inside the worker for a person who
has no Prometheus: it keeps timestamped samples of the counters' totals and divides the
growth across the window by the time it spans. Pure: time is passed in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from prometheus_client import Counter


class RollingRate:
    """Rates of labelled cumulative totals over the last ``window`` seconds."""

    def __init__(self, window: float = 60.0) -> None:
        if window <= 0:
            raise ValueError("window must be > 0")
        self.window = window
        self._samples: deque[tuple[float, dict[str, float]]] = deque()

    def observe(self, now: float, totals: Mapping[str, float]) -> None:
        """Record the totals seen at ``now`` (monotonic seconds, non-decreasing)."""
        if self._samples and now < self._samples[-1][0]:
            raise ValueError("samples must come in time order")
        self._samples.append((now, dict(totals)))
        # Keep one sample at or before the window's start, so the span covers it fully.
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.window:
            self._samples.popleft()

    def rates(self, keys: Iterable[str] = ()) -> dict[str, float]:
        """Per-second growth of each total across the window; ``keys`` are always present.

        With less than a window of history the rate is over the history there is. A total
        that went down (a restarted counter) counts from zero, as Prometheus' ``rate`` does.
        """
        out = dict.fromkeys(keys, 0.0)
        if len(self._samples) < 2:
            return out
        (t0, first), (t1, last) = self._samples[0], self._samples[-1]
        span = t1 - t0
        if span <= 0:
            return out
        for key, value in last.items():
            start = first.get(key, 0.0)
            growth = value - start if value >= start else value
            out[key] = growth / span
        return out


def counter_totals(counter: Counter, label: str) -> dict[str, float]:
    """The current total of ``counter`` per value of its ``label``."""
    totals: dict[str, float] = {}
    for family in counter.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and label in sample.labels:
                key = sample.labels[label]
                totals[key] = totals.get(key, 0.0) + sample.value
    return totals

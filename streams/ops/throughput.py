"""Events in per topic and predictions per trigger, per second over the last minute."""

from __future__ import annotations

import time

from streams.metrics import Metrics
from streams.ops.rates import RollingRate, counter_totals
from streams.polling import PollingService

WINDOW_SECONDS = 60.0
SAMPLE_SECONDS = 1.0


class Throughput(PollingService):
    """Samples the input and output counters every second for the status page."""

    def __init__(self, metrics: Metrics, window: float = WINDOW_SECONDS) -> None:
        super().__init__(SAMPLE_SECONDS)
        self.metrics = metrics
        self.window = window
        self.events = RollingRate(window)
        self.predictions = RollingRate(window)

    def sample(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.events.observe(now, counter_totals(self.metrics.events_in, "topic"))
        self.predictions.observe(now, counter_totals(self.metrics.predictions_out, "trigger"))

    async def poll(self) -> None:
        self.sample()

"""The stall watchdog: an owned partition with lag whose committed offset stops moving.

Faust's most reported production failure is a consumer that quietly stops reading
(faust-streaming issues 175 and 640): the process is alive, /health answers, the
dependencies are up, and nothing is processed. Progress is what tells it apart, so this
watches the group's committed offset of every partition the worker owns, as the lag monitor
measures it. A partition is stalled when it has lag and its committed offset has not moved
for ``STALL_SECONDS``. A slow worker still commits (Faust commits every second what it has
processed), so slowness is never a stall; no lag is never a stall either.

A blocked event loop stops this watchdog too: that case is the liveness probe's (/health
stops answering).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import Literal, NamedTuple

import structlog

from streams.metrics import Metrics
from streams.ops.consumer_lag import PartitionLag

log = structlog.get_logger(__name__)

#: After asking the worker to stop, how long a graceful stop may take before the process
#: exits anyway (a stalled worker may be stuck in the very call that stalls it).
EXIT_GRACE_SECONDS = 15.0
#: The exit status of a worker that exits on a stall (EX_SOFTWARE).
STALL_EXIT_STATUS = 70


class Stall(NamedTuple):
    topic: str
    partition: int
    committed: int | None
    lag: int
    seconds: float

    def reason(self) -> str:
        progress = (
            "nothing committed"
            if self.committed is None
            else f"its committed offset {self.committed} unmoved"
        )
        return (
            f"stalled: {self.topic}[{self.partition}] has {self.lag} records of lag and "
            f"{progress} for {self.seconds:.0f}s"
        )


class _Seen(NamedTuple):
    committed: int | None
    since: float  # monotonic time the committed offset last moved (or lag was zero)


class StallWatch:
    """Pure bookkeeping: feed it each lag measurement; it says which partitions stall."""

    def __init__(self, stall_seconds: float) -> None:
        self.stall_seconds = stall_seconds
        self._seen: dict[tuple[str, int], _Seen] = {}
        self.stalled: list[Stall] = []

    def observe(self, lags: Iterable[PartitionLag], now: float) -> list[Stall]:
        """The partitions stalled as of this measurement (a newly owned partition's clock
        starts now; partitions no longer owned are forgotten)."""
        seen: dict[tuple[str, int], _Seen] = {}
        stalled = []
        for p in lags:
            key = (p.topic, p.partition)
            before = self._seen.get(key)
            if before is None or p.lag == 0 or p.committed != before.committed:
                seen[key] = _Seen(p.committed, now)
                continue
            seen[key] = before
            if now - before.since >= self.stall_seconds:
                stalled.append(Stall(p.topic, p.partition, p.committed, p.lag, now - before.since))
        self._seen = seen
        self.stalled = stalled
        return stalled


def _exit_now() -> None:
    os._exit(STALL_EXIT_STATUS)


def stop_process(grace: float = EXIT_GRACE_SECONDS) -> None:
    """Ask the worker to stop as SIGTERM does, and exit regardless after ``grace``."""
    timer = threading.Timer(grace, _exit_now)
    timer.daemon = True
    timer.start()
    os.kill(os.getpid(), signal.SIGTERM)


class StallWatchdog:
    """Turns lag measurements into stall reports: metrics, /ready reasons, and the action."""

    def __init__(
        self,
        metrics: Metrics,
        stall_seconds: float,
        action: Literal["report", "exit"],
        *,
        clock: Callable[[], float] = time.monotonic,
        stop: Callable[[], None] = stop_process,
    ) -> None:
        self.watch = StallWatch(stall_seconds)
        self.metrics = metrics
        self.action = action
        self.clock = clock
        self.stop = stop
        self._labels: set[tuple[str, str]] = set()
        self._stopping = False

    @property
    def stalled(self) -> list[Stall]:
        return self.watch.stalled

    def on_measure(self, lags: list[PartitionLag]) -> None:
        before = {(s.topic, s.partition) for s in self.watch.stalled}
        stalled = self.watch.observe(lags, self.clock())
        gauge = self.metrics.partition_stalled
        labels = {(p.topic, str(p.partition)) for p in lags}
        for gone in self._labels - labels:
            gauge.remove(*gone)  # moved to another worker: its to report
        now_stalled = {(s.topic, s.partition) for s in stalled}
        for p in lags:
            gauge.labels(topic=p.topic, partition=str(p.partition)).set(
                1 if (p.topic, p.partition) in now_stalled else 0
            )
        self._labels = labels
        for stall in stalled:
            if (stall.topic, stall.partition) not in before:
                self.metrics.partition_stalls.labels(
                    topic=stall.topic, partition=str(stall.partition)
                ).inc()
                log.error("partition_stalled", reason=stall.reason(), action=self.action)
        if stalled and self.action == "exit" and not self._stopping:
            self._stopping = True
            log.error("exiting_on_stall", stalled=len(stalled))
            self.stop()

"""The stall watchdog's bookkeeping: lag plus no committed progress, and nothing else."""

from __future__ import annotations

from streams.metrics import Metrics
from streams.ops.consumer_lag import PartitionLag
from streams.ops.stalls import StallWatch, StallWatchdog


def lag(committed: int | None, lag: int, partition: int = 0) -> PartitionLag:
    end = (committed or 0) + lag
    return PartitionLag("livescores", partition, end, committed, lag)


def test_lag_without_progress_for_stall_seconds_is_a_stall() -> None:
    watch = StallWatch(60)
    assert watch.observe([lag(10, 5)], now=0) == []
    assert watch.observe([lag(10, 9)], now=59) == []
    [stall] = watch.observe([lag(10, 9)], now=60)
    assert (stall.topic, stall.partition, stall.committed, stall.lag) == ("livescores", 0, 10, 9)
    assert "livescores[0]" in stall.reason() and "60s" in stall.reason()


def test_a_slow_worker_that_commits_is_never_stalled() -> None:
    watch = StallWatch(60)
    for second in range(0, 600, 2):
        # Far behind, yet the committed offset moves by one record per measurement.
        assert watch.observe([lag(second // 2, 10_000)], now=second) == []


def test_no_lag_is_no_stall_and_restarts_the_clock() -> None:
    watch = StallWatch(60)
    watch.observe([lag(10, 3)], now=0)
    assert watch.observe([lag(10, 0)], now=50) == []  # caught up: idle, not stalled
    assert watch.observe([lag(10, 2)], now=100) == []  # new records: clock starts at 50
    assert watch.observe([lag(10, 2)], now=111)  # 61 s since the last sign of progress


def test_a_partition_moved_away_and_back_starts_afresh() -> None:
    watch = StallWatch(60)
    watch.observe([lag(10, 3)], now=0)
    watch.observe([], now=30)
    assert watch.observe([lag(10, 3)], now=70) == []


def test_the_watchdog_reports_once_and_exits_once() -> None:
    stops: list[int] = []
    now = [0.0]
    metrics = Metrics()
    dog = StallWatchdog(metrics, 60, "exit", clock=lambda: now[0], stop=lambda: stops.append(1))
    for t in (0, 30, 61, 63, 65):
        now[0] = t
        dog.on_measure([lag(10, 4), lag(7, 0, partition=1)])
    text = metrics.exposition().decode()
    assert 'soccer_partition_stalled{partition="0",topic="livescores"} 1.0' in text
    assert 'soccer_partition_stalled{partition="1",topic="livescores"} 0.0' in text
    assert 'soccer_partition_stalls_total{partition="0",topic="livescores"} 1.0' in text
    assert stops == [1]
    dog.on_measure([])  # partitions moved to another worker: its to report
    assert "soccer_partition_stalled{" not in metrics.exposition().decode()


def test_report_only_never_stops() -> None:
    stops: list[int] = []
    dog = StallWatchdog(Metrics(), 1, "report", clock=iter(range(100)).__next__, stop=stops.append)
    for _ in range(5):
        dog.on_measure([lag(3, 3)])
    assert dog.stalled and stops == []

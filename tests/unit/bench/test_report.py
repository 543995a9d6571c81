"""The benchmark's arithmetic and table: rates, percentiles, targets (no broker needed)."""

from __future__ import annotations

import math

import pytest

from bench.report import Row, row_line, table, target_lines, targets
from bench.workload import drain_rate, payload_sizes, percentiles_ms, sample_prediction

NAMES = {
    "pipeline": "pipe: drain",
    "floor": "floor",
    "celery_1": "celery x1",
    "steady_100": "pipe: steady 100/s",
    "steady_1000": "pipe: steady 1,000/s",
    "long": "pipe, 300 a match: drain",
    "shadow": "pipe, shadow: drain",
}
#: The labels issue 21 fixes, in the order the bench prints them.
LABELS = [
    "drain >= 70% of the Faust floor",
    "p99 <= 10 ms at 100 events/s",
    "p99 <= 20 ms at 1,000 events/s",
    "drain at 300 events a match >= 90% of drain at 60",
    "one challenger costs <= 30% of the drain",
    ">= 8x Celery, 1 worker vs prefork x1",
]


def test_drain_rate_counts_intervals_between_first_and_last_output() -> None:
    assert drain_rate([10.0, 10.5, 11.0]) == pytest.approx(2.0)
    assert drain_rate([3.0, 1.0, 2.0]) == pytest.approx(1.0), "order does not matter"
    assert drain_rate([5.0]) == 0.0 and drain_rate([]) == 0.0
    assert drain_rate([5.0, 5.0]) == 0.0, "no time span, no rate"


def test_percentiles_are_in_milliseconds() -> None:
    p50, p99 = percentiles_ms([0.010] * 99 + [0.500])
    assert p50 == pytest.approx(10.0) and 10.0 < p99 <= 500.0
    assert all(math.isnan(v) for v in percentiles_ms([]))


def test_the_ceiling_writes_records_the_size_of_a_real_prediction() -> None:
    event_size, output_size = payload_sizes()
    assert 100 < event_size < output_size < 1024
    assert sample_prediction(b'{"match_id":"m","seq":1,"ts":"2024-06-14T19:00:00Z",'
                             b'"status":"live","minute":3,"home_goals":0,"away_goals":0}'
                             ).startswith(b'{"match_id":"m"')  # fmt: skip


def test_targets_met_and_missed() -> None:
    rows = [
        Row("floor", 1000, 4000.0),
        Row("pipe: drain", 1000, 3000.0),
        Row("pipe: steady 100/s", 1000, 100.0, 4.0, 9.5),
        Row("pipe: steady 1,000/s", 1000, 1000.0, 30.0, 120.0),
        Row("pipe, 300 a match: drain", 1000, 2600.0),
        Row("pipe, shadow: drain", 1000, 2250.0),
        Row("celery x1", 100, 300.0),
        Row("celery x2", 100, 500.0),
    ]
    found = targets(rows, NAMES)
    assert [t.text for t in found] == LABELS
    by = {t.text: t for t in found}
    # 3,000 / 4,000 = 75 %; 2,600 / 3,000 = 86.7 %; 1 - 2,250 / 3,000 = 25 %; 3,000 / 300 = 10x.
    assert (by[LABELS[0]].measured, by[LABELS[0]].met) == ("75%", True)
    assert (by[LABELS[1]].measured, by[LABELS[1]].met) == ("9.5 ms", True)
    assert (by[LABELS[2]].measured, by[LABELS[2]].met) == ("120.0 ms", False)
    assert (by[LABELS[3]].measured, by[LABELS[3]].met) == ("87%", False)
    assert (by[LABELS[4]].measured, by[LABELS[4]].met) == ("25%", True)
    assert (by[LABELS[5]].measured, by[LABELS[5]].met) == ("10.0x", True)
    lines = target_lines(found).splitlines()
    assert [line.split()[-1] for line in lines] == ["met", "met", "MISSED", "MISSED", "met", "met"]


def test_a_target_whose_rows_failed_is_missed_not_met() -> None:
    rows = [Row("pipe: drain", 1000, 3000.0), Row("celery x1", 0, 0.0, note="failed: X")]
    found = targets(rows, NAMES)
    assert [t.met for t in found] == [False] * len(LABELS)
    assert all(line.endswith("MISSED") for line in target_lines(found).splitlines())


def test_progress_lines_are_readable_not_reprs() -> None:
    assert row_line(Row("pipe: drain", 30000, 1234.5, note="BATCH_SIZE=1024")) == (
        "pipe: drain: 1,234 events/s over 30,000 events (BATCH_SIZE=1024)"
    )
    assert "Row(" not in row_line(Row("pipe @ 100/s", 1500, 100.0, 4.25, 9.5))


def test_table_shows_drains_against_the_ceiling_and_latency_for_steady_rates() -> None:
    text = table(
        [Row("ceiling", 1000, 4000.0), Row("pipe: steady 1,000/s", 900, 1000.0, 12.34, 56.78)],
        ceiling=4000.0,
    )
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["run", "events", "events/s"]
    assert "4,000" in lines[2] and "100%" in lines[2]
    assert "12.3" in lines[3] and "56.8" in lines[3] and "%" not in lines[3]
    assert all(line == line.rstrip() for line in lines)

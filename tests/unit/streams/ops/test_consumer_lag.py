"""Lag per partition from end, committed and earliest offsets."""

from __future__ import annotations

from streams.ops.consumer_lag import partition_lags


def test_lag_is_end_minus_committed_or_everything_from_the_earliest() -> None:
    lags = partition_lags(
        end_offsets={("in", 1): 10, ("in", 0): 7, ("in", 2): 5, ("in", 3): 4},
        committed={("in", 0): 7, ("in", 1): 4, ("in", 2): None, ("in", 3): -1},
        earliest={("in", 2): 2, ("in", 3): 0},
    )
    assert [(p.partition, p.lag, p.committed) for p in lags] == [
        (0, 0, 7),
        (1, 6, 4),
        (2, 3, None),  # never committed: everything from the earliest offset is behind
        (3, 4, None),  # -1 is Kafka's "no offset"
    ]


def test_lag_is_never_negative() -> None:
    (lag,) = partition_lags({("in", 0): 3}, {("in", 0): 5}, {})
    assert lag.lag == 0

"""Unit tests of the pure parts behind the status page, /metrics and the admin endpoint."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter
from pydantic import SecretStr

from streams.consumer_lag import partition_lags
from streams.rates import RollingRate, counter_totals
from streams.status import redact_uri
from streams.web.auth import check_bearer
from streams.web.driver import ServiceApp

TOKEN = SecretStr("s3cret-token")


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


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),
        ("", 401),
        ("Bearer", 401),
        ("Bearer ", 401),
        ("Basic s3cret-token", 401),
        ("Bearer wrong", 401),
        ("Bearer s3cret-token-and-more", 401),
        ("Bearer sécret", 401),  # non-ASCII must be refused, not crash compare_digest
    ],
)
def test_bearer_refusals(header: str | None, status: int) -> None:
    refusal = check_bearer(header, TOKEN)
    assert refusal is not None and refusal.status == status


@pytest.mark.parametrize(
    "header", ["Bearer s3cret-token", "bearer s3cret-token", " Bearer  s3cret-token "]
)
def test_bearer_accepts_the_token(header: str) -> None:
    assert check_bearer(header, TOKEN) is None


def test_admin_endpoints_are_off_without_a_token() -> None:
    refusal = check_bearer("Bearer anything", None)
    assert refusal is not None and refusal.status == 403 and "ADMIN_TOKEN" in refusal.reason


def test_redact_uri_hides_only_the_password() -> None:
    assert redact_uri("http://user:pw@mlflow:5000/x") == "http://user:***@mlflow:5000/x"
    assert redact_uri("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"


def test_faust_index_does_not_take_the_root_path() -> None:
    app = ServiceApp("unit-driver", autodiscover=False)
    mounted = [blueprint for _, blueprint in app.web._enabled_blueprints()]
    assert not any("production_index" in str(b) for b in mounted)
    assert not any("stats" in str(b) for b in mounted)

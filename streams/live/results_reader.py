"""Every worker reads the whole results topic and folds it into its team ratings.

See :mod:`streams.live.team_ratings` for why the fold is the same on every worker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import structlog
from pydantic import ValidationError

from schemas import MatchResult
from streams.faust_glue.topic_replica import TopicReplica
from streams.live.team_ratings import TeamRatings
from streams.metrics import Metrics

log = structlog.get_logger(__name__)
REJECTED: frozenset[str] = frozenset({"duplicate", "stale", "in_snapshot", "no_state"})


def results_reader(
    kafka: Mapping[str, Any], topic: str, ratings: TeamRatings, metrics: Metrics
) -> TopicReplica:
    """The replica of the results topic that feeds ``ratings``."""

    def take(value: bytes | None) -> None:
        try:
            result = MatchResult.model_validate_json(value or b"")
        except ValidationError as exc:
            metrics.results_rejected.labels(reason="unreadable").inc()
            log.warning("result_unreadable", error=str(exc.errors()[0]["msg"])[:200])
            return
        outcome = ratings.offer(result)
        if outcome in {"applied", "corrected", "pending"}:
            metrics.results_applied.inc()
        elif outcome in REJECTED:
            metrics.results_rejected.labels(reason=outcome).inc()

    def newest_age() -> float:
        newest = ratings.newest
        if newest is None:
            return float("nan")  # no result yet: no age to report
        return (dt.datetime.now(dt.UTC) - newest.finished_at).total_seconds()

    metrics.newest_result_age.set_function(newest_age)
    return TopicReplica(kafka, topic, take, metrics.results_behind)

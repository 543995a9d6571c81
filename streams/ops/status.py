"""What the status page shows, as one JSON document (``GET /status.json``).

Everything here is read from what the worker handle already holds (its metrics, live
resources, lag and throughput); the only I/O is one Redis PING, so the page can poll it
every two seconds without loading anything.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field

from schemas import Prediction
from streams.handle import WorkerHandle
from streams.live.model_server import ModelServer
from streams.ops.evaluation import EvaluationReport, evaluation_report
from streams.ops.rates import counter_totals
from streams.ops.ratings import RatingsReport, ratings_report
from streams.ops.read_models import ReadModelLag, read_model_lags


class RecentPrediction(BaseModel):
    """One line of the page's latest-predictions table."""

    match_id: str
    trigger: str
    request_id: str | None
    status: str
    minute: int
    home_goals: int
    away_goals: int
    home: float
    draw: float
    away: float
    predicted: str
    model_version: str
    predicted_at: dt.datetime

    @classmethod
    def of(cls, p: Prediction) -> RecentPrediction:
        return cls(
            match_id=p.match_id,
            trigger=p.trigger,
            request_id=p.request_id,
            status=p.status,
            minute=p.minute,
            home_goals=p.home_goals,
            away_goals=p.away_goals,
            home=p.probabilities.home,
            draw=p.probabilities.draw,
            away=p.probabilities.away,
            predicted=p.predicted,
            model_version=p.model.version,
            predicted_at=p.predicted_at,
        )


class LagReport(BaseModel):
    measured_at: dt.datetime | None
    error: str | None
    total: int = Field(description="Records of the inputs not processed yet.")
    partitions: list[dict[str, Any]] = Field(description="The inputs' partitions.")


class FeaturesReport(BaseModel):
    dir: str
    version: str | None
    age_seconds: float | None
    teams: int
    matches: int
    error: str | None


class RedisReport(BaseModel):
    ok: bool
    error: str | None
    pending: int = Field(description="Latest predictions parked until Redis answers again.")


class RegistryReport(BaseModel):
    uri: str = Field(description="Tracking URI with any password removed.")
    model_name: str
    alias: str
    last_checked: dt.datetime | None
    error: str | None


class StatusReport(BaseModel):
    """The whole page's data; ``problems`` is empty when all is well."""

    generated_at: dt.datetime
    consumer_group: str
    problems: list[str]
    model: dict[str, Any]
    window_seconds: float
    events_per_second: dict[str, float]
    predictions_per_second: dict[str, float]
    events_total: dict[str, float]
    predictions_total: dict[str, float]
    dead_letters: dict[str, float]
    lag: LagReport
    read_models: list[ReadModelLag] = Field(description="How far behind the outputs each is.")
    features: FeaturesReport
    ratings: RatingsReport
    evaluation: EvaluationReport
    redis: RedisReport
    registry: RegistryReport
    recent: list[RecentPrediction] = Field(description="Newest first.")


def model_status(server: ModelServer) -> dict[str, Any]:
    """The serving model and the challenger, as /model and the status page show them."""
    serving = server.current
    body: dict[str, Any] = {
        "serving": None,
        "challenger": json.loads(server.challenger.model_dump_json())
        if server.challenger
        else None,
        "challengers": [
            {"alias": alias, **json.loads(model.ref.model_dump_json())}
            for alias, model in server.challengers.items()
        ],
        "challenger_errors": dict(server.challenger_errors),
        "last_checked": server.last_checked.isoformat() if server.last_checked else None,
        "last_error": server.last_error,
    }
    if serving is not None:
        body["serving"] = {
            **json.loads(serving.ref.model_dump_json()),
            "loaded_at": serving.loaded_at.isoformat(),
        }
        body.update(body["serving"])  # contract: name, version, alias, run_id, loaded_at at top
    return body


def redact_uri(uri: str) -> str:
    """``uri`` without the password of its user part (tracking URIs may carry one)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{parts.username}:***@{host}{port}"
    return urlunsplit(parts._replace(netloc=netloc))


async def status_report(worker: WorkerHandle) -> StatusReport:
    """Assemble the report; pings Redis once."""
    settings, metrics = worker.settings, worker.metrics
    lag, throughput = worker.lag, worker.throughput
    inputs = (settings.livescores_topic, settings.match_requests_topic)
    redis_error = await worker.latest.ping()
    snapshot = worker.features.current
    features = FeaturesReport(
        dir=str(settings.features_dir),
        version=snapshot.version if snapshot else None,
        age_seconds=round(snapshot.age_seconds(), 1) if snapshot else None,
        teams=len(snapshot.teams) if snapshot else 0,
        matches=len(snapshot.fixtures) if snapshot else 0,
        error=worker.features.last_error,
    )
    model = model_status(worker.models)
    problems = []
    if model["serving"] is None:
        problems.append(f"model: none serving ({model['last_error'] or 'loading'})")
    if snapshot is None:
        problems.append(f"features: none loaded ({features.error or 'loading'})")
    if redis_error:
        problems.append(redis_error)
    if lag.last_error:
        problems.append(f"kafka: lag unavailable ({lag.last_error})")
    problems += [stall.reason() for stall in worker.stalls.stalled]
    return StatusReport(
        generated_at=dt.datetime.now(dt.UTC),
        consumer_group=settings.consumer_group,
        problems=problems,
        model=model,
        window_seconds=throughput.window,
        events_per_second=throughput.events.rates(inputs),
        predictions_per_second=throughput.predictions.rates(("livescore", "request")),
        events_total=counter_totals(metrics.events_in, "topic"),
        predictions_total=counter_totals(metrics.predictions_out, "trigger"),
        dead_letters=counter_totals(metrics.dead_letters, "reason"),
        lag=LagReport(
            measured_at=lag.measured_at,
            error=lag.last_error,
            total=sum(p.lag for p in lag.partitions if p.topic in inputs),
            partitions=[p._asdict() for p in lag.partitions if p.topic in inputs],
        ),
        read_models=read_model_lags(worker),
        features=features,
        ratings=ratings_report(worker),
        evaluation=evaluation_report(worker.board, worker.models, worker.promoter),
        redis=RedisReport(
            ok=redis_error is None, error=redis_error, pending=len(worker.latest.pending)
        ),
        registry=RegistryReport(
            uri=redact_uri(settings.registry_uri),
            model_name=settings.model_name,
            alias=worker.models.alias,
            last_checked=worker.models.last_checked,
            error=worker.models.last_error,
        ),
        recent=[RecentPrediction.of(p) for p in worker.recent.newest_first()],
    )

"""What the worker says about its stream-updated team features: on the status page, in
/ready while it catches up, and in full at ``GET /ratings``."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from schemas.features import TEAM_FEATURE_COLUMNS
from streams.handle import WorkerHandle


class AppliedRow(BaseModel):
    """One result the features took in, and what it did to both ratings."""

    match_id: str
    date: dt.date
    home_team: str
    away_team: str
    home_goals: int
    away_goals: int
    home_elo_before: float
    home_elo_after: float
    away_elo_before: float
    away_elo_after: float


class RatingsReport(BaseModel):
    """How far the stream has updated the feature snapshot."""

    enabled: bool = Field(description="STREAM_FEATURE_UPDATES.")
    features_version: str = Field(description="<snapshot>+<results applied>.")
    results_applied: int
    caught_up: bool = Field(description="Read everything the results topic held at start-up.")
    results_behind: int | None = Field(description="Records of the results topic not read yet.")
    newest_result: dt.date | None
    newest_result_age_seconds: float | None
    snapshot_results_until: dt.date | None
    error: str | None
    recent: list[AppliedRow] = Field(description="The last results applied, newest first.")


def ratings_report(worker: WorkerHandle) -> RatingsReport:
    ratings, reader = worker.ratings, worker.results
    newest = ratings.newest
    error = reader.last_error if reader else None
    if ratings.snapshot is not None and ratings.snapshot.states is None:
        error = "the feature snapshot has no team states (written before stream updates): retrain"
    return RatingsReport(
        enabled=reader is not None,
        features_version=ratings.version,
        results_applied=ratings.applied,
        caught_up=reader is None or reader.caught_up.is_set(),
        results_behind=reader.behind if reader else None,
        newest_result=newest.date if newest else None,
        newest_result_age_seconds=(
            round((dt.datetime.now(dt.UTC) - newest.finished_at).total_seconds(), 1)
            if newest
            else None
        ),
        snapshot_results_until=ratings.snapshot.results_until if ratings.snapshot else None,
        error=error,
        recent=[
            AppliedRow(
                match_id=a.result.match_id,
                date=a.result.date,
                home_team=a.result.home_team,
                away_team=a.result.away_team,
                home_goals=a.result.home_goals,
                away_goals=a.result.away_goals,
                home_elo_before=round(a.home_elo[0], 2),
                home_elo_after=round(a.home_elo[1], 2),
                away_elo_before=round(a.away_elo[0], 2),
                away_elo_after=round(a.away_elo[1], 2),
            )
            for a in reversed(ratings.recent)
        ],
    )


class TeamsReport(BaseModel):
    """Every team's features now (``GET /ratings``)."""

    features_version: str
    teams: dict[str, dict[str, float]]


def teams_report(worker: WorkerHandle) -> TeamsReport:
    return TeamsReport(
        features_version=worker.ratings.version,
        teams={
            name: dict(zip(TEAM_FEATURE_COLUMNS, values, strict=True))
            for name, values in sorted(worker.ratings.current().items())
        },
    )

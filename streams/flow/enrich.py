"""Events plus feature tables to the model's input frame (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from schemas import Livescore, MatchRequest
from schemas.features import DEFAULT_TOURNAMENT, STATE_COLUMNS, model_frame
from streams.flow.records import RawRecord
from streams.live.feature_snapshot import FeatureSnapshot, Fixture


@dataclass(slots=True)
class Job:
    """One decoded input on its way to a prediction.

    ``state`` is the match state predicted for: the event itself for a livescore, the
    latest state in ``match_to_state`` (or None before kick-off) for a request.
    """

    raw: RawRecord
    record: Livescore | MatchRequest
    state: Livescore | None
    fixture: Fixture | None = None


def resolve_fixture(snapshot: FeatureSnapshot, job: Job) -> Fixture | None:
    """The match's teams: the feature tables first, else the teams the events carry."""
    known = snapshot.fixtures.get(job.record.match_id)
    if known is not None:
        return known
    for source in (job.record, job.state):
        if source is not None and source.home_team and source.away_team:
            return Fixture(
                home_team=source.home_team,
                away_team=source.away_team,
                neutral=bool(source.neutral),
                tournament=source.tournament or DEFAULT_TOURNAMENT,
            )
    return None


def _state_row(state: Livescore | None) -> tuple[int, ...]:
    if state is None:
        return (0,) * len(STATE_COLUMNS)
    return tuple(getattr(state, name) for name in STATE_COLUMNS)


def serving_frame(snapshot: FeatureSnapshot, jobs: list[Job]) -> tuple[pd.DataFrame, int]:
    """The model input for ``jobs`` (all with a fixture) and how many teams were unknown."""
    fixtures: list[Fixture] = []
    for job in jobs:
        if job.fixture is None:
            raise ValueError("resolve_fixture runs first: a job without teams is a dead letter")
        fixtures.append(job.fixture)
    home, away, unknown = [], [], 0
    for fixture in fixtures:
        home_features, home_known = snapshot.team(fixture.home_team)
        away_features, away_known = snapshot.team(fixture.away_team)
        home.append(home_features)
        away.append(away_features)
        unknown += (not home_known) + (not away_known)
    frame = model_frame(
        home,
        away,
        [f.neutral for f in fixtures],
        [f.tournament for f in fixtures],
        [_state_row(job.state) for job in jobs],
    )
    return frame, unknown

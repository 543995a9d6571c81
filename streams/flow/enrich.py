"""Events plus team features to the model's input frame (pure, no I/O)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from schemas import Livescore, MatchRequest, MatchTeams
from schemas.features import DEFAULT_TOURNAMENT, STATE_COLUMNS, ModelInput, model_rows
from streams.flow.records import RawRecord
from streams.live.feature_snapshot import Fixture
from streams.live.team_ratings import TeamRatings


@dataclass(slots=True)
class Job:
    """One decoded input on its way to a prediction.

    ``state`` is the match state predicted for: the event itself for a livescore, the
    latest state in ``match_to_state`` (or None before kick-off) for a request. ``teams``
    are the teams stored for the match, if any. ``date`` is the match's date once known:
    features are looked up as of before it.
    """

    raw: RawRecord
    record: Livescore | MatchRequest
    state: Livescore | None
    teams: MatchTeams | None = None
    fixture: Fixture | None = None
    date: dt.date | None = None


def resolve_fixture(ratings: TeamRatings, job: Job) -> Fixture | None:
    """The match's teams: the feature tables first, else the teams the events carry, else
    those stored for the match (named by an earlier event or request)."""
    known = ratings.fixtures.get(job.record.match_id)
    if known is not None:
        return known
    for source in (job.record, job.state, job.teams):
        if source is not None and source.home_team and source.away_team:
            return Fixture(
                home_team=source.home_team,
                away_team=source.away_team,
                neutral=bool(source.neutral),
                tournament=source.tournament or DEFAULT_TOURNAMENT,
            )
    return None


def known_date(job: Job) -> dt.date | None:
    """The day the match is played as some source says it: the event, the tables, the
    stored state or teams; None when none does."""
    for source in (job.record, job.fixture, job.state, job.teams):
        if source is not None and source.date is not None:
            return source.date
    return None


def match_date(job: Job, read_at: dt.datetime) -> dt.date:
    """The day the match is played: :func:`known_date`, else the day of the event (a
    livescore's ``ts``, a request's reading: "today")."""
    known = known_date(job)
    if known is not None:
        return known
    if isinstance(job.record, Livescore):
        return job.record.ts.astimezone(dt.UTC).date()
    return read_at.date()


def resolve(ratings: TeamRatings, job: Job, read_at: dt.datetime) -> bool:
    """Set the job's fixture and date; False when the match's teams are nowhere to be found."""
    job.fixture = resolve_fixture(ratings, job)
    if job.fixture is None:
        return False
    job.date = match_date(job, read_at)
    return True


def _state_row(state: Livescore | None) -> tuple[int, ...]:
    if state is None:
        return (0,) * len(STATE_COLUMNS)
    return tuple(getattr(state, name) for name in STATE_COLUMNS)


def serving_input(ratings: TeamRatings, jobs: list[Job]) -> tuple[ModelInput, int]:
    """The model input for ``jobs`` (each with a fixture and a date), with every team's
    features as of before its match's date, and how many teams were unknown."""
    home, away, unknown = [], [], 0
    fixtures: list[Fixture] = []
    for job in jobs:
        if job.fixture is None or job.date is None:
            raise ValueError(
                "resolve the fixture and date first: a job without teams is a dead letter"
            )
        fixtures.append(job.fixture)
        home_features, home_known = ratings.team_at(job.fixture.home_team, job.date)
        away_features, away_known = ratings.team_at(job.fixture.away_team, job.date)
        home.append(home_features)
        away.append(away_features)
        unknown += (not home_known) + (not away_known)
    inputs = model_rows(
        home,
        away,
        [f.neutral for f in fixtures],
        [f.tournament for f in fixtures],
        [_state_row(job.state) for job in jobs],
    )
    return inputs, unknown

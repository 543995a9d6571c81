"""What the match pages show (pure): ``GET /matches.json`` lists a worker's matches,
``GET /matches/{match_id}.json`` gives one match in full.

A page is built from a :class:`MatchRecord`: the match's state on the champion's path
(``match_to_state``: its newest livescore and teams) and its timeline, a read model of the
champion's predictions (``streams.read_models.outputs``). The goals and red cards are
read off the score and card counts those points carry (a livescore carries counts, not
events), so nothing is stored twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import BaseModel, Field

from schemas import MatchState, MatchTeams, Status, TimelinePoint, Trigger
from streams.read_models.outputs import TIMELINE_POINTS

#: Points per sparkline on the list: enough for a shape, small enough to poll.
SPARK_POINTS: Final = 60
#: Matches listed at most, newest first.
LISTED_MATCHES: Final = 200

Kind = Literal["pre-match", "request", "livescore"]
Side = Literal["home", "away"]
EventKind = Literal["goal", "red_card"]
#: Each count a point carries, and the event a rise in it is.
_COUNTS: Final[tuple[tuple[EventKind, Side, str], ...]] = (
    ("goal", "home", "home_goals"),
    ("goal", "away", "away_goals"),
    ("red_card", "home", "home_red_cards"),
    ("red_card", "away", "away_red_cards"),
)


class PointView(BaseModel):
    """One champion prediction on the chart."""

    at: dt.datetime
    kind: Kind = Field(description="pre-match (before kick-off), request or livescore.")
    trigger: Trigger
    seq: int | None
    status: Status
    minute: int
    home_goals: int
    away_goals: int
    home_red_cards: int
    away_red_cards: int
    home: float
    draw: float
    away: float
    model_version: str


class EventMark(BaseModel):
    """A goal or red card, at the first prediction that shows it."""

    kind: EventKind
    side: Side
    minute: int
    seq: int | None
    home_goals: int
    away_goals: int


class RatingChange(BaseModel):
    """A team's Elo before and after the match, from the stream-updated features."""

    team: str
    elo_before: float
    elo_after: float
    change: float


@dataclass(frozen=True)
class MatchRecord:
    """What is known of one match: its state and teams, and its timeline (or the newest
    part of it, for the list), with the number of points it has in all."""

    state: MatchState | None
    teams: MatchTeams | None
    points: Sequence[TimelinePoint]
    pre_match: TimelinePoint | None
    count: int

    @property
    def updated_at(self) -> dt.datetime | None:
        """When an event of the match last arrived (or its newest point, without state)."""
        if self.state is not None:
            return self.state.touched_at
        return self.points[-1].at if self.points else None


class MatchView(BaseModel):
    """``GET /matches/{match_id}.json``: one match, as its page draws it."""

    match_id: str
    home_team: str | None
    away_team: str | None
    tournament: str | None
    date: dt.date | None
    status: Status
    minute: int
    home_goals: int
    away_goals: int
    home_red_cards: int
    away_red_cards: int
    updated_at: dt.datetime = Field(description="When an event of the match last arrived.")
    pre_match: PointView | None = Field(description="The last prediction before kick-off.")
    points: list[PointView] = Field(description="Oldest first; the last is the newest.")
    points_limit: int = Field(description="At most this many points are kept per match.")
    truncated: bool = Field(description="Older points were dropped to keep the bound.")
    events: list[EventMark]
    model_versions: list[str] = Field(description="Every model version among the points.")
    rating_changes: list[RatingChange] | None = Field(
        description="After full time, once the stream has applied the result; else null."
    )
    served_by: str = Field(description="The worker that owns the match.")


class MatchSummary(BaseModel):
    """One row of ``GET /matches``."""

    match_id: str
    home_team: str | None
    away_team: str | None
    status: Status
    minute: int
    home_goals: int
    away_goals: int
    updated_at: dt.datetime
    points: int
    spark: list[tuple[float, float, float]] = Field(
        description=f"P(home), P(draw), P(away) of the last {SPARK_POINTS} points."
    )


class MatchList(BaseModel):
    """``GET /matches.json``: the matches this worker owns (its partitions only)."""

    served_by: str
    partitions: list[int] = Field(description="The partitions of the matches listed here.")
    other_workers: list[str] = Field(description="Where the other partitions' matches are.")
    matches: list[MatchSummary]


def kind_of(point: TimelinePoint) -> Kind:
    if point.status == "scheduled":
        return "pre-match"
    return "request" if point.trigger == "request" else "livescore"


def point_view(point: TimelinePoint) -> PointView:
    return PointView(
        at=point.at,
        kind=kind_of(point),
        trigger=point.trigger,
        seq=point.seq,
        status=point.status,
        minute=point.minute,
        home_goals=point.home_goals,
        away_goals=point.away_goals,
        home_red_cards=point.home_red_cards,
        away_red_cards=point.away_red_cards,
        home=point.home,
        draw=point.draw,
        away=point.away,
        model_version=point.version,
    )


def events_of(points: Sequence[TimelinePoint], truncated: bool = False) -> list[EventMark]:
    """Goals and red cards where a point's counts rise over the point before it.

    A match starts 0-0 with no cards, so the first point's counts are events too, unless
    older points were dropped (their events are then not known to the minute). A count
    that falls (a feed correction) marks nothing.
    """
    marks: list[EventMark] = []
    before: TimelinePoint | None = None
    for point in points:
        if before is not None or not truncated:
            for kind, side, count in _COUNTS:
                rise = getattr(point, count) - (getattr(before, count) if before else 0)
                marks.extend(
                    EventMark(
                        kind=kind,
                        side=side,
                        minute=point.minute,
                        seq=point.seq,
                        home_goals=point.home_goals,
                        away_goals=point.away_goals,
                    )
                    for _ in range(rise)
                )
        before = point
    return marks


def _state(record: MatchRecord) -> tuple[Status, int, int, int, int, int]:
    """Status, minute, score and cards now: the newest livescore, else the newest point."""
    state = record.state.state if record.state is not None else None
    if state is not None:
        return (
            state.status,
            state.minute,
            state.home_goals,
            state.away_goals,
            state.home_red_cards,
            state.away_red_cards,
        )
    last = record.points[-1] if record.points else None
    if last is None:
        return "scheduled", 0, 0, 0, 0, 0
    return (
        last.status,
        last.minute,
        last.home_goals,
        last.away_goals,
        last.home_red_cards,
        last.away_red_cards,
    )


def _teams(record: MatchRecord) -> tuple[str | None, str | None]:
    if record.teams is not None:
        return record.teams.home_team, record.teams.away_team
    state = record.state.state if record.state is not None else None
    return (state.home_team, state.away_team) if state is not None else (None, None)


def match_view(
    match_id: str,
    record: MatchRecord,
    served_by: str,
    elo: tuple[tuple[float, float], tuple[float, float]] | None = None,
    limit: int = TIMELINE_POINTS,
) -> MatchView:
    """One match's page data; ``elo`` is ``TeamRatings.elo_change`` of the match."""
    status, minute, home_goals, away_goals, home_cards, away_cards = _state(record)
    home_team, away_team = _teams(record)
    points = record.points
    truncated = record.count >= limit
    changes = None
    if status == "finished" and elo is not None and home_team and away_team:
        changes = [
            RatingChange(
                team=team,
                elo_before=round(before, 2),
                elo_after=round(after, 2),
                change=round(after - before, 2),
            )
            for team, (before, after) in ((home_team, elo[0]), (away_team, elo[1]))
        ]
    teams = record.teams
    return MatchView(
        match_id=match_id,
        home_team=home_team,
        away_team=away_team,
        tournament=teams.tournament if teams else None,
        date=teams.date if teams else None,
        status=status,
        minute=minute,
        home_goals=home_goals,
        away_goals=away_goals,
        home_red_cards=home_cards,
        away_red_cards=away_cards,
        updated_at=record.updated_at or dt.datetime.now(dt.UTC),
        pre_match=point_view(record.pre_match) if record.pre_match else None,
        points=[point_view(p) for p in points],
        points_limit=limit,
        truncated=truncated,
        events=events_of(points, truncated),
        model_versions=sorted({p.version for p in points}, key=_version_order),
        rating_changes=changes,
        served_by=served_by,
    )


def _version_order(version: str) -> tuple[int, str]:
    # MLflow versions are integers as text: "10" after "9".
    return (int(version), "") if version.isdigit() else (2**63, version)


def match_summary(match_id: str, record: MatchRecord) -> MatchSummary:
    status, minute, home_goals, away_goals, _, _ = _state(record)
    home_team, away_team = _teams(record)
    return MatchSummary(
        match_id=match_id,
        home_team=home_team,
        away_team=away_team,
        status=status,
        minute=minute,
        home_goals=home_goals,
        away_goals=away_goals,
        updated_at=record.updated_at or dt.datetime.now(dt.UTC),
        points=record.count,
        spark=[(p.home, p.draw, p.away) for p in record.points[-SPARK_POINTS:]],
    )


_STATUS_ORDER: Final[dict[Status, int]] = {"live": 0, "halftime": 0, "scheduled": 1, "finished": 2}


def match_list(
    records: Iterable[tuple[str, MatchRecord]],
    served_by: str,
    partitions: Iterable[int],
    other_workers: Iterable[str],
) -> MatchList:
    """Live matches first, then those to come, then the finished; newest first in each.
    A match with no prediction yet is left out: it has nothing to draw."""
    rows = [match_summary(m, record) for m, record in records if record.count]
    rows.sort(key=lambda r: r.updated_at, reverse=True)
    rows.sort(key=lambda r: _STATUS_ORDER[r.status])
    return MatchList(
        served_by=served_by,
        partitions=sorted(partitions),
        other_workers=sorted(other_workers),
        matches=rows[:LISTED_MATCHES],
    )

"""Matches to a timed list of ``livescores`` events (pure: no Kafka, no clock).

A replay plays match time faster than real time: ``speed`` match-minutes per real second
(60 plays a 90-minute match in 1.5 s). Match ``i`` kicks off ``i * stagger_minutes``
match-minutes after the first, so several matches are live at once, like a tournament day,
unless it names its own ``kickoff_minute`` (a tournament's calendar: simultaneous kick-offs,
breaks between match days). A match that went to extra time names ``end_minute`` (120), so
its final whistle comes after the extra time even when nobody scored in it.
Each match's states come from :func:`models.timeline.match_timeline`, the same states the
model was trained on. ``seq`` counts a match's events from 0; ``ts`` is the wall-clock time
the event is due (the replay is the live feed), and ``date`` keeps the historical date.
Every event names its teams, venue and tournament, so matches missing from the feature
tables still get predictions. :func:`request_schedule` times one pre-match ``match-requests``
record per match, a few match-minutes before its kick-off.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from models.data import MatchData
from models.ids import match_id
from models.timeline import FULL_TIME, MAX_MINUTE, Goal, match_timeline
from schemas import Livescore, MatchRequest
from schemas.common import MAX_ID_LENGTH


class ReplayMatch(BaseModel):
    """One finished match to replay: its fixture, final score and goals."""

    model_config = ConfigDict(frozen=True)

    match_id: str
    date: dt.date
    home_team: str
    away_team: str
    neutral: bool
    tournament: str
    home_score: int = Field(ge=0)
    away_score: int = Field(ge=0)
    goals: tuple[Goal, ...] = ()
    kickoff_minute: float | None = Field(
        None,
        ge=0,
        description="Kick-off in match-minutes after the replay starts; None: "
        "the match's place in the list times the stagger.",
    )
    end_minute: int | None = Field(
        None,
        ge=FULL_TIME,
        le=MAX_MINUTE,
        description="Minute of the final whistle when later than the last goal's (120 after "
        "extra time); None: the timeline's rule.",
    )


class ScheduledEvent(NamedTuple):
    """A ``livescores`` record due ``delay`` seconds after the replay starts."""

    delay: float
    key: bytes
    value: bytes
    event: Livescore


class ScheduledRequest(NamedTuple):
    """A ``match-requests`` record due ``delay`` seconds after the replay starts."""

    delay: float
    key: bytes
    value: bytes
    request: MatchRequest


def select_matches(
    data: MatchData,
    *,
    tournament: str | None = None,
    since: dt.date | None = None,
    max_matches: int | None = None,
    year: int | None = None,
) -> list[ReplayMatch]:
    """Matches of ``data`` that pass the filters, oldest first.

    ``tournament`` matches case-insensitively; ``year`` is the calendar year the match was
    played in. ``max_matches`` keeps the first N from ``since`` when it is given, else the N
    most recent: "replay the last World Cup" and "replay from this date" both read naturally.
    """
    results = data.results
    mask = pd.Series(True, index=results.index)
    if tournament is not None:
        mask &= results["tournament"].str.casefold() == tournament.casefold()
    if since is not None:
        mask &= results["date"] >= pd.Timestamp(since)
    if year is not None:
        mask &= results["date"].dt.year == year
    chosen = results[mask]
    if max_matches is not None:
        chosen = chosen.head(max_matches) if since is not None else chosen.tail(max_matches)
    goals = data.goals_by_match()
    out = []
    for row in chosen.itertuples(index=False):
        mid = match_id(row.date, row.home_team, row.away_team)
        out.append(
            ReplayMatch(
                match_id=mid,
                date=row.date.date(),
                home_team=row.home_team,
                away_team=row.away_team,
                neutral=bool(row.neutral),
                tournament=row.tournament,
                home_score=int(row.home_score),
                away_score=int(row.away_score),
                goals=tuple(goals.get(mid, ())),
            )
        )
    return out


def match_events(match: ReplayMatch) -> list[tuple[int, Livescore]]:
    """(match minute, event) for each state of ``match``; ``ts`` is filled in by ``schedule``."""
    placeholder = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    states = match_timeline(match.home_score, match.away_score, match.goals)
    if match.end_minute is not None and match.end_minute > states[-1].minute:
        states[-1] = states[-1].model_copy(update={"minute": match.end_minute})
    return [
        (
            state.minute,
            Livescore(
                match_id=match.match_id,
                seq=seq,
                ts=placeholder,
                status=state.status,
                minute=state.minute,
                home_goals=state.home_goals,
                away_goals=state.away_goals,
                home_team=match.home_team,
                away_team=match.away_team,
                date=match.date,
                neutral=match.neutral,
                tournament=match.tournament,
            ),
        )
        for seq, state in enumerate(states)
    ]


def kickoff(match: ReplayMatch, index: int, stagger_minutes: float) -> float:
    """Match-minutes from the start of the replay to ``match``'s kick-off."""
    if match.kickoff_minute is not None:
        return match.kickoff_minute
    return index * stagger_minutes


def _check(speed: float, stagger_minutes: float) -> None:
    if speed <= 0:
        raise ValueError("speed must be > 0 match-minutes per second")
    if stagger_minutes < 0:
        raise ValueError("stagger_minutes must be >= 0")


def schedule(
    matches: list[ReplayMatch],
    *,
    speed: float,
    start: dt.datetime,
    stagger_minutes: float = 0.0,
) -> list[ScheduledEvent]:
    """Every event of ``matches`` with its delay from ``start``, in the order to send them.

    Ties keep match order, then ``seq``, so each match's events stay in order (they share
    a partition, so the worker sees them in this order too).
    """
    _check(speed, stagger_minutes)
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    timed = []
    for index, match in enumerate(matches):
        offset = kickoff(match, index, stagger_minutes)
        for minute, event in match_events(match):
            delay = (offset + minute) / speed
            timed.append((delay, index, event.seq, event))
    timed.sort(key=lambda t: (t[0], t[1], t[2]))
    out = []
    for delay, _, _, event in timed:
        stamped = event.model_copy(update={"ts": start + dt.timedelta(seconds=delay)})
        out.append(
            ScheduledEvent(
                delay=delay,
                key=stamped.match_id.encode(),
                value=stamped.model_dump_json().encode(),
                event=stamped,
            )
        )
    return out


def request_for(match: ReplayMatch, request_id: str) -> MatchRequest:
    """A pre-match request for ``match``, naming its teams, date, venue and tournament."""
    return MatchRequest(
        request_id=request_id,
        match_id=match.match_id,
        home_team=match.home_team,
        away_team=match.away_team,
        date=match.date,
        neutral=match.neutral,
        tournament=match.tournament,
    )


def request_schedule(
    matches: list[ReplayMatch],
    *,
    speed: float,
    lead_minutes: float,
    request_prefix: str,
    stagger_minutes: float = 0.0,
) -> list[ScheduledRequest]:
    """One pre-match request per match, ``lead_minutes`` match-minutes before its kick-off
    (at the start of the replay when it kicks off sooner), in the order to send them.

    Use the same ``speed`` and ``stagger_minutes`` as :func:`schedule`. The request id is
    ``request_prefix`` and the match id (cut to the contract's 128 characters): a fresh
    prefix per replay keeps the ids unique across replays, so no answer is taken for
    another replay's.
    """
    _check(speed, stagger_minutes)
    if lead_minutes < 0:
        raise ValueError("lead_minutes must be >= 0")
    timed = []
    for index, match in enumerate(matches):
        delay = max(kickoff(match, index, stagger_minutes) - lead_minutes, 0.0) / speed
        request = request_for(match, f"{request_prefix}:{match.match_id}"[:MAX_ID_LENGTH])
        timed.append((delay, index, request))
    timed.sort(key=lambda t: (t[0], t[1]))
    return [
        ScheduledRequest(
            delay=delay,
            key=request.match_id.encode(),
            value=request.model_dump_json().encode(),
            request=request,
        )
        for delay, _, request in timed
    ]

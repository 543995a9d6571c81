"""A season as the chaos runs' input: requests, in-play livescores and a ``finished`` per match.

Built once and sent byte for byte the same to the clean run and the chaos run (pure: no
Kafka, no clock). Each match gets :data:`REQUESTS_PER_MATCH` pre-match requests, then the
livescores of its goal minutes (:func:`streams.cli.match_feed.match_events`, the states the
model was trained on), the last one ``finished``. The season goes day by day: a day's
requests first, then its matches' events interleaved by match minute. Timestamps follow
the historical date (the hour of the match minute), so they are the same in both runs.

Every input has an identity the ledger checks it by: ``request:<request_id>`` for a
request, ``livescore:<match_id>:<seq>`` for a livescore.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict

from models.data import MatchData
from streams.cli.match_feed import ReplayMatch, match_events, request_for, select_matches

#: Pre-match requests a match gets: the eve's and the match day's.
REQUESTS_PER_MATCH = 2

Kind = Literal["request", "livescore"]


class InputRecord(BaseModel):
    """One record to send, and what identifies it in the ledger."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    identity: str
    match_id: str
    key: bytes
    value: bytes


class SeasonDay(BaseModel):
    """One day's inputs, and the finished matches it brings."""

    model_config = ConfigDict(frozen=True)

    date: dt.date
    records: tuple[InputRecord, ...]
    finished: tuple[str, ...]


class SeasonInput(BaseModel):
    """The whole input, by day."""

    model_config = ConfigDict(frozen=True)

    days: tuple[SeasonDay, ...]

    @property
    def records(self) -> Iterator[InputRecord]:
        for day in self.days:
            yield from day.records

    def count(self) -> int:
        return sum(len(day.records) for day in self.days)

    def match_ids(self) -> list[str]:
        return [match_id for day in self.days for match_id in day.finished]


def request_identity(request_id: str) -> str:
    return f"request:{request_id}"


def livescore_identity(match_id: str, seq: int) -> str:
    return f"livescore:{match_id}:{seq}"


def _requests(match: ReplayMatch) -> list[InputRecord]:
    out = []
    for n in range(REQUESTS_PER_MATCH):
        request = request_for(match, f"chaos-{n}:{match.match_id}")
        out.append(
            InputRecord(
                kind="request",
                identity=request_identity(request.request_id),
                match_id=match.match_id,
                key=match.match_id.encode(),
                value=request.model_dump_json().encode(),
            )
        )
    return out


def _day(date: dt.date, matches: list[ReplayMatch]) -> SeasonDay:
    records = [r for match in matches for r in _requests(match)]
    kickoff = dt.datetime.combine(date, dt.time(12), tzinfo=dt.UTC)
    timed = []
    for index, match in enumerate(matches):
        for minute, event in match_events(match):
            stamped = event.model_copy(update={"ts": kickoff + dt.timedelta(minutes=minute)})
            timed.append((minute, index, stamped))
    timed.sort(key=lambda t: (t[0], t[1], t[2].seq))
    records += [
        InputRecord(
            kind="livescore",
            identity=livescore_identity(event.match_id, event.seq),
            match_id=event.match_id,
            key=event.match_id.encode(),
            value=event.model_dump_json().encode(),
        )
        for _, _, event in timed
    ]
    return SeasonDay(date=date, records=tuple(records), finished=tuple(m.match_id for m in matches))


def season_input(data: MatchData, since: dt.date, until: dt.date) -> SeasonInput:
    """Every match of ``data`` played from ``since`` to ``until`` (inclusive), by day. A
    match id seen twice (the same fixture twice on one day) is sent once."""
    matches = [m for m in select_matches(data, since=since) if m.date <= until]
    by_day: dict[dt.date, dict[str, ReplayMatch]] = {}
    for match in matches:
        by_day.setdefault(match.date, {}).setdefault(match.match_id, match)
    return SeasonInput(
        days=tuple(_day(date, list(day.values())) for date, day in sorted(by_day.items()))
    )

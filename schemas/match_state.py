"""The ``match_to_state`` table's value: the small state the champion's path needs.

Kept in a changelog-backed Faust table keyed by ``match_id``, so it survives restarts and
moves with the match's partitions. It holds what enriching the next event needs and
nothing more: the newest livescore (a request during a match is answered for the current
score and minute) and who plays. What people read about a match (its timeline, the
forecasts kept for scoring) lives in read models beside it (``streams.read_models``), so
the size of this value never grows with the match's history.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.common import TeamName, Timestamp, Tournament
from schemas.livescore import Livescore


class MatchTeams(BaseModel):
    """Who plays, as the match was enriched (feature tables or the events' names)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    home_team: TeamName
    away_team: TeamName
    neutral: bool = False
    tournament: Tournament | None = None
    date: dt.date | None = None


class MatchState(BaseModel):
    """One match as the champion's path sees it: its newest state and its teams."""

    # Values written before 2.0.0 (the whole match memory, with its timeline and
    # forecasts) are read as their state and teams: the rest is ignored.
    model_config = ConfigDict(extra="ignore")

    state: Livescore | None = Field(None, description="The newest livescore (highest seq).")
    teams: MatchTeams | None = None
    touched_at: Timestamp = Field(description="Last time an event of this match arrived.")

    @classmethod
    def decode(cls, raw: bytes, now: dt.datetime) -> MatchState:
        """From the table's bytes; a value written before the memory existed (a bare
        livescore) is read as that state."""
        try:
            return cls.model_validate_json(raw)
        except ValidationError:
            return cls(state=Livescore.model_validate_json(raw), touched_at=now)

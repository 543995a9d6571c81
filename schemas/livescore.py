"""The ``livescores`` input record."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from schemas.common import (
    Goals,
    InputRecord,
    MatchDate,
    MatchId,
    Minute,
    RedCards,
    Seq,
    Status,
    TeamName,
    Timestamp,
    Tournament,
    check_team_pair,
)


class Livescore(InputRecord):
    """One change of a match's state (kick-off, goal, half-time, red card, full time).

    Validate straight from the Kafka value with ``Livescore.model_validate_json(raw)``.
    Unknown fields are ignored (producers may evolve ahead of us); types are strict.
    ``home_team``/``away_team``/``date``/``neutral``/``tournament`` are only needed when
    the match is not in the feature tables; ``None`` means "not sent", so the feature
    tables decide.
    """

    match_id: MatchId
    seq: Seq
    ts: Timestamp = Field(description="When the state changed (RFC 3339, with timezone).")
    status: Status = Field(description="scheduled, live, halftime or finished.")
    minute: Minute
    home_goals: Goals
    away_goals: Goals
    home_red_cards: RedCards = 0
    away_red_cards: RedCards = 0
    home_team: TeamName | None = None
    away_team: TeamName | None = None
    date: MatchDate | None = Field(None, description="Match date, when not in the tables.")
    neutral: bool | None = Field(None, description="Neutral ground; None means not sent.")
    tournament: Tournament | None = None

    @model_validator(mode="after")
    def _teams_come_in_pairs(self) -> Self:
        check_team_pair(self.home_team, self.away_team)
        return self

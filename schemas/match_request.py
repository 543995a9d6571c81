"""The ``match-requests`` input record."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from schemas.common import (
    InputRecord,
    MatchDate,
    MatchId,
    RequestId,
    TeamName,
    Tournament,
    check_team_pair,
)


class MatchRequest(InputRecord):
    """An on-demand request for a prediction of one match.

    Validate straight from the Kafka value with ``MatchRequest.model_validate_json(raw)``.
    Unknown fields are ignored (producers may evolve ahead of us); types are strict.
    ``date=None`` means "today", and the service decides which day that is when it
    answers: the schema does not fill it in, so a default never masquerades as a date
    the producer sent. Teams are optional when the match is in the tables.
    """

    request_id: RequestId
    match_id: MatchId
    home_team: TeamName | None = None
    away_team: TeamName | None = None
    date: MatchDate | None = Field(None, description="Match date; None means today (service).")
    neutral: bool = Field(False, description="Played on neutral ground.")
    tournament: Tournament | None = None

    @model_validator(mode="after")
    def _teams_come_in_pairs(self) -> Self:
        check_team_pair(self.home_team, self.away_team)
        return self

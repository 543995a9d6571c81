"""The internal ``{CONSUMER_GROUP}-results`` record: one finished match, the input of the
stream-updated team features (``streams.live.team_ratings``)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from schemas.common import (
    Goals,
    MatchDate,
    MatchId,
    OutputRecord,
    Seq,
    TeamName,
    Timestamp,
    Tournament,
)


class MatchResult(OutputRecord):
    """A match's final score, as the livescores ``finished`` event said it.

    Keyed by ``match_id`` on a compacted topic: a re-delivered event writes the same value
    again, and a correction (a later ``finished`` event, higher ``seq``) replaces it.
    """

    match_id: MatchId
    seq: Seq = Field(description="The finished event's seq; a higher one is a correction.")
    date: MatchDate = Field(description="The match's calendar date (point-in-time lookups).")
    finished_at: Timestamp = Field(description="The finished event's ts: orders one day's matches.")
    home_team: TeamName
    away_team: TeamName
    neutral: bool
    tournament: Tournament
    home_goals: Goals
    away_goals: Goals

    def order(self) -> tuple[dt.date, dt.datetime, str]:
        """Where the result stands in the fold: by date (as training), then by when it
        finished, then by id, so every worker folds one set of results in one order."""
        return (self.date, self.finished_at, self.match_id)

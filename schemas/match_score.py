"""The internal ``{CONSUMER_GROUP}-scores`` record: one forecast scored against a result."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from schemas.common import MatchId, Outcome, OutputRecord, Timestamp, unset
from schemas.match_forecasts import Phase


class MatchScore(OutputRecord):
    """How good one model version's forecast of one match in one phase was.

    Keyed ``match_id|model_version|phase`` on a compacted topic: a re-delivered result
    writes the same record again, and a corrected result replaces it.
    """

    match_id: MatchId
    model_version: str = Field(min_length=1)
    phase: Phase
    date: dt.date = Field(description="The match's date.")
    home: float = Field(ge=0, le=1)
    draw: float = Field(ge=0, le=1)
    away: float = Field(ge=0, le=1)
    outcome: Outcome
    log_loss: float = Field(ge=0, description="-ln P(outcome).")
    brier: float = Field(ge=0, description="Sum of squared errors over the 3 outcomes.")
    rps: float = Field(ge=0, description="Ranked probability score over home < draw < away.")
    # Added in 3.0.0, and left out while None: a 2.x worker, which refuses fields it does
    # not know, still reads the scores of forecasts without goals.
    goals_rps: float | None = Field(
        None,
        ge=0,
        exclude_if=unset,
        description="Ranked probability score of the forecast's final total goals, not "
        "divided by the categories (models.scorelines.total_goals_rps); None when the "
        "forecast had no expected goals.",
    )
    scored_at: Timestamp

    @property
    def key(self) -> str:
        return f"{self.match_id}|{self.model_version}|{self.phase}"

"""The ``match_to_outputs`` table's value: one published prediction of a match, the
champion's (a point on its match page) or a challenger's (``streams.read_models.outputs``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import Goals, Minute, RedCards, Seq, Status, Timestamp, unset
from schemas.prediction import ExpectedGoals, Probability, Trigger


class TimelinePoint(BaseModel):
    """One published prediction of the match."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    at: Timestamp = Field(description="predicted_at of the prediction.")
    trigger: Trigger
    seq: Seq | None = Field(description="The livescore seq predicted for; None before kick-off.")
    request_id: str | None = Field(None, description="The request answered, if any.")
    status: Status
    minute: Minute
    home_goals: Goals
    away_goals: Goals
    home_red_cards: RedCards = 0
    away_red_cards: RedCards = 0
    home: Probability
    draw: Probability
    away: Probability
    version: str = Field(description="Registry version of the model that answered.")
    # Added in 3.0.0; optional, so points written before read as a forecast without goals,
    # and left out while None.
    expected_goals: ExpectedGoals | None = Field(
        None,
        exclude_if=unset,
        description="The prediction's expected final goals, what live scoring scores.",
    )

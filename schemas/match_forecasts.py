"""What scoring needs of a prediction (a :class:`Forecast`, in a :data:`Phase`), and the
``match_to_result`` table's value: a match's result, as the read models hold it
(``streams.read_models``)."""

from __future__ import annotations

from typing import Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.common import Goals, Status, Timestamp
from schemas.match_result import MatchResult
from schemas.prediction import ExpectedGoals

Phase = Literal["pre", "0-29", "30-59", "60+"]
#: Scored phases: before kick-off, then the match clock in three buckets.
PHASES: Final[tuple[Phase, ...]] = ("pre", "0-29", "30-59", "60+")


def phase_of(status: Status, minute: int) -> Phase | None:
    """The phase a prediction of this state belongs to; None once the match finished."""
    if status == "scheduled":
        return "pre"
    if status == "finished":
        return None
    return "0-29" if minute < 30 else "30-59" if minute < 60 else "60+"


class Forecast(BaseModel):
    """One prediction, as scoring needs it: its outcome probabilities and, when the model
    forecast goals, its expected final goals and the score it was made at."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    home: float
    draw: float
    away: float
    minute: int
    seq: int | None
    at: Timestamp
    home_goals: Goals | None = Field(None, description="The score predicted for.")
    away_goals: Goals | None = Field(None, description="The score predicted for.")
    expected_goals: ExpectedGoals | None = None

    @model_validator(mode="after")
    def _score_with_goals(self) -> Self:
        if self.expected_goals is not None and (self.home_goals is None or self.away_goals is None):
            raise ValueError("expected_goals need the score they were forecast at")
        return self

    @property
    def goals_to_come(self) -> tuple[float, float] | None:
        """Expected goals still to come of each side when forecast (expected final goals
        minus the score then, at least 0): the rates ``models.scorelines`` takes; None
        without expected goals."""
        if self.expected_goals is None or self.home_goals is None or self.away_goals is None:
            return None
        return (
            max(self.expected_goals.home - self.home_goals, 0.0),
            max(self.expected_goals.away - self.away_goals, 0.0),
        )


class HeldResult(BaseModel):
    """A match's result as the read models hold it, and when they read it (the janitor
    keeps a finished match ``FINISHED_MATCH_MINUTES`` from then, for a correction)."""

    model_config = ConfigDict(extra="ignore")

    result: MatchResult
    read_at: Timestamp = Field(description="When the read models took the result.")

"""What scoring needs of a prediction (a :class:`Forecast`, in a :data:`Phase`), and the
``match_to_result`` table's value: a match's result, as the read models hold it
(``streams.read_models``)."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import Status, Timestamp
from schemas.match_result import MatchResult

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
    """One prediction, as scoring needs it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    home: float
    draw: float
    away: float
    minute: int
    seq: int | None
    at: Timestamp


class HeldResult(BaseModel):
    """A match's result as the read models hold it, and when they read it (the janitor
    keeps a finished match ``FINISHED_MATCH_MINUTES`` from then, for a correction)."""

    model_config = ConfigDict(extra="ignore")

    result: MatchResult
    read_at: Timestamp = Field(description="When the read models took the result.")

"""The ``match_to_state`` table's value: what the service remembers of one match.

Kept in a changelog-backed Faust table keyed by ``match_id``, so it survives restarts and
moves with the match's partitions. It holds the newest livescore, and the last forecast
each model version made in each phase, which is what is scored when the match finishes.
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.common import Status, Timestamp
from schemas.livescore import Livescore

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


class MatchMemory(BaseModel):
    """One match: its newest state and its forecasts by model version and phase."""

    model_config = ConfigDict(extra="ignore")

    state: Livescore | None = None
    forecasts: dict[str, dict[Phase, Forecast]] = Field(
        default_factory=dict, description="Model version -> phase -> its last forecast."
    )
    touched_at: Timestamp = Field(description="Last time an event of this match arrived.")
    finished_at: Timestamp | None = Field(None, description="When its result was scored.")

    @classmethod
    def decode(cls, raw: bytes, now: dt.datetime) -> MatchMemory:
        """From the table's bytes; a value written before the memory existed (a bare
        livescore) is read as that state."""
        try:
            return cls.model_validate_json(raw)
        except ValidationError:
            return cls(state=Livescore.model_validate_json(raw), touched_at=now)

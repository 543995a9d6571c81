"""The ``match_to_state`` table's value: what the service remembers of one match.

Kept in a changelog-backed Faust table keyed by ``match_id``, so it survives restarts and
moves with the match's partitions. It holds the newest livescore, the last forecast each
model version made in each phase (what is scored when the match finishes), and the
champion's published predictions as a bounded timeline (what the match pages draw).
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.common import Goals, Minute, RedCards, Seq, Status, TeamName, Timestamp, Tournament
from schemas.livescore import Livescore
from schemas.prediction import Probability, Trigger

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


class TimelinePoint(BaseModel):
    """One published champion prediction of the match, as its page draws it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    at: Timestamp = Field(description="predicted_at of the prediction.")
    trigger: Trigger
    seq: Seq | None = Field(description="The livescore seq predicted for; None before kick-off.")
    status: Status
    minute: Minute
    home_goals: Goals
    away_goals: Goals
    # Predictions do not carry cards; they come from the livescore of the same seq.
    home_red_cards: RedCards = 0
    away_red_cards: RedCards = 0
    home: Probability
    draw: Probability
    away: Probability
    version: str = Field(description="Registry version of the model that answered.")


class MatchTeams(BaseModel):
    """Who plays, as the prediction was enriched (feature tables or the events' names)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    home_team: TeamName
    away_team: TeamName
    tournament: Tournament | None = None
    date: dt.date | None = None


class MatchMemory(BaseModel):
    """One match: its newest state, its forecasts by model version and phase, and the
    champion's predictions over time."""

    model_config = ConfigDict(extra="ignore")

    state: Livescore | None = None
    forecasts: dict[str, dict[Phase, Forecast]] = Field(
        default_factory=dict, description="Model version -> phase -> its last forecast."
    )
    touched_at: Timestamp = Field(description="Last time an event of this match arrived.")
    finished_at: Timestamp | None = Field(None, description="When its result was scored.")
    teams: MatchTeams | None = None
    pre_match: TimelinePoint | None = Field(
        None,
        description="The last champion prediction before kick-off (kept apart from the "
        "bounded timeline, so it is never dropped).",
    )
    timeline: list[TimelinePoint] = Field(
        default_factory=list,
        description="Champion predictions, oldest first by seq (ties in arrival order); "
        "only the newest TIMELINE_POINTS are kept.",
    )

    @classmethod
    def decode(cls, raw: bytes, now: dt.datetime) -> MatchMemory:
        """From the table's bytes; a value written before the memory existed (a bare
        livescore) is read as that state."""
        try:
            return cls.model_validate_json(raw)
        except ValidationError:
            return cls(state=Livescore.model_validate_json(raw), touched_at=now)

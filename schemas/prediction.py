"""The ``predictions`` output record and the one way to build it."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.common import (
    OUTCOMES,
    Goals,
    MatchId,
    Minute,
    Outcome,
    OutputRecord,
    RedCards,
    RequestId,
    Seq,
    Status,
    Timestamp,
    unset,
)
from schemas.livescore import Livescore
from schemas.match_request import MatchRequest

#: The contract: published probabilities sum to 1 within this.
SUM_TOLERANCE: Final = 1e-6
#: Raw model output may drift this far from a sum of 1 and still be renormalised;
#: beyond it the output is treated as broken, not rounded into shape.
DRIFT_TOLERANCE: Final = 1e-4
#: Most scorelines a prediction lists.
MAX_SCORELINES: Final = 5

Probability = Annotated[
    float, Field(ge=0.0, le=1.0, allow_inf_nan=False, description="Probability in [0, 1].")
]
Trigger = Literal["livescore", "request"]


class Probabilities(OutputRecord):
    """Outcome probabilities, each in [0, 1], summing to 1 within ``SUM_TOLERANCE``."""

    home: Probability
    draw: Probability
    away: Probability

    @model_validator(mode="after")
    def _sums_to_one(self) -> Self:
        total = self.home + self.draw + self.away
        if abs(total - 1.0) > SUM_TOLERANCE:
            raise ValueError(f"probabilities must sum to 1 within {SUM_TOLERANCE}, got {total!r}")
        return self

    @classmethod
    def from_raw(cls, values: Mapping[str, float] | Iterable[float]) -> Probabilities:
        """Build from raw model output, renormalising float drift up to ``DRIFT_TOLERANCE``.

        ``values`` is a mapping with keys home/draw/away or three numbers in that order
        (a list, tuple or NumPy row). Raises ``ValueError`` for anything that is not a
        probability vector (wrong length, NaN, negative, sum far from 1), so a broken
        model surfaces as a ``model_error`` instead of a plausible-looking answer.
        """
        if isinstance(values, Mapping):
            missing = set(OUTCOMES) - set(values)
            if missing:
                raise ValueError(f"probabilities missing {sorted(missing)}")
            raw = [float(values[o]) for o in OUTCOMES]
        else:
            raw = [float(v) for v in values]
        if len(raw) != len(OUTCOMES):
            raise ValueError(f"expected {len(OUTCOMES)} probabilities, got {len(raw)}")
        if not all(math.isfinite(v) and v >= -DRIFT_TOLERANCE for v in raw):
            raise ValueError(f"probabilities must be finite and >= 0, got {raw}")
        clipped = [max(v, 0.0) for v in raw]
        total = math.fsum(clipped)
        if abs(total - 1.0) > DRIFT_TOLERANCE:
            raise ValueError(f"probabilities sum to {total!r}, not 1")
        home, draw, away = (min(v / total, 1.0) for v in clipped)
        return cls(home=home, draw=draw, away=away)

    def of(self, outcome: Outcome) -> float:
        """The probability of one outcome."""
        return float(getattr(self, outcome))

    @property
    def argmax(self) -> Outcome:
        """The most likely outcome; ties go to the first in ``OUTCOMES`` order."""
        return max(OUTCOMES, key=self.of)


class ExpectedGoals(BaseModel):
    """Expected FINAL goals of each side: the score so far plus the goals still expected."""

    # Open, unlike the other parts of a prediction: the read models keep it in a table
    # changelog, whose values later versions may add to. Both fields are required, so a
    # misspelt one still fails.
    model_config = ConfigDict(frozen=True, extra="ignore")

    home: float = Field(ge=0.0, allow_inf_nan=False, description="Home side, >= 0.")
    away: float = Field(ge=0.0, allow_inf_nan=False, description="Away side, >= 0.")


class Scoreline(OutputRecord):
    """One final score and its probability."""

    home: Goals = Field(description="Final home goals, >= 0.")
    away: Goals = Field(description="Final away goals, >= 0.")
    probability: Probability


Scorelines = Annotated[list[Scoreline], Field(min_length=1, max_length=MAX_SCORELINES)]


@dataclass(frozen=True, slots=True)
class GoalForecastRow:
    """One prediction's goal forecasts, as ``Prediction.build`` takes them
    (``models.scorelines.GoalForecasts.row`` makes them from a batch's forecasts)."""

    expected_home: float
    expected_away: float
    scorelines: tuple[tuple[int, int, float], ...]  # (home, away, probability), most likely first
    over_2_5: float

    def fields(self) -> dict[str, Any]:
        """The ``Prediction`` fields, as plain values: pydantic validates them once, inside
        the one constructor call."""
        return {
            "expected_goals": {"home": self.expected_home, "away": self.expected_away},
            "scorelines": [{"home": h, "away": a, "probability": p} for h, a, p in self.scorelines],
            "over_2_5": self.over_2_5,
        }


class ModelRef(OutputRecord):
    """The exact registry model version that produced a prediction."""

    name: str = Field(min_length=1, description="Registered model name (MODEL_NAME).")
    version: str = Field(min_length=1, description="Registry version, as MLflow spells it.")
    alias: str = Field(min_length=1, description="Alias it was resolved through.")
    run_id: str | None = Field(description="MLflow run that logged it; None if none.")


class Prediction(OutputRecord):
    """One ``predictions`` record, for either trigger; ``model_dump_json()`` is the wire form.

    Build it with ``for_livescore``/``for_request`` (or ``build``): they normalise the
    model's probabilities and compute ``predicted``. A request answered without any live
    state for the match is a prediction for the scheduled match: status ``scheduled``,
    minute 0, score 0-0, ``seq`` None. The goal forecasts (``expected_goals``,
    ``scorelines``, ``over_2_5``) come together or not at all.
    """

    match_id: MatchId
    trigger: Trigger = Field(description="What caused the prediction.")
    request_id: RequestId | None = Field(description="Set exactly when trigger is request.")
    seq: Seq | None = Field(description="The livescore seq of the state predicted for.")
    status: Status
    minute: Minute
    home_goals: Goals
    away_goals: Goals
    # Added in 2.0.0; optional, so records written before read as no cards.
    home_red_cards: RedCards = 0
    away_red_cards: RedCards = 0
    probabilities: Probabilities
    predicted: Outcome = Field(description="The argmax of probabilities.")
    # Added in 3.0.0; optional, so consumers that do not know them keep working, and left
    # out while None, so a prediction without goal forecasts is what 2.0.0 wrote.
    expected_goals: ExpectedGoals | None = Field(
        None,
        exclude_if=unset,
        description="Expected final goals of each side (the score plus the goals still "
        "expected); None when the model forecasts no goals.",
    )
    scorelines: Scorelines | None = Field(
        None,
        exclude_if=unset,
        description=f"The most likely final scores, most likely first, at most "
        f"{MAX_SCORELINES}; equally likely ones with fewer goals first, then more home "
        "goals; None when the model forecasts no goals.",
    )
    over_2_5: Probability | None = Field(
        None,
        exclude_if=unset,
        description="P(final total goals >= 3); None when the model forecasts no goals.",
    )
    model: ModelRef
    features_version: str = Field(
        min_length=1, description="Feature-table snapshot used for enrichment."
    )
    event_ts: Timestamp = Field(description="The livescore ts, or when the request was read.")
    predicted_at: Timestamp

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.trigger == "request") != (self.request_id is not None):
            raise ValueError("request_id must be set exactly when trigger is 'request'")
        if self.trigger == "livescore" and self.seq is None:
            raise ValueError("a livescore prediction must carry the event's seq")
        best = max(self.probabilities.of(o) for o in OUTCOMES)
        if self.probabilities.of(self.predicted) != best:
            raise ValueError(f"predicted {self.predicted!r} is not the argmax of probabilities")
        if (self.expected_goals, self.scorelines, self.over_2_5) != (None, None, None):
            self._goals_consistent()
        return self

    def _goals_consistent(self) -> None:
        # One pass, as every prediction with goals pays for it. A final score below the one
        # predicted for means the goals were computed for another row of the batch: refuse
        # it rather than publish it.
        lines = self.scorelines
        if self.expected_goals is None or lines is None or self.over_2_5 is None:
            raise ValueError("expected_goals, scorelines and over_2_5 come together")
        home, away = self.home_goals, self.away_goals
        if self.expected_goals.home < home or self.expected_goals.away < away:
            raise ValueError("expected_goals are below the score predicted for")
        if home + away >= 3 and self.over_2_5 != 1.0:
            raise ValueError("over_2_5 must be 1 once 3 goals are scored")
        previous, total, seen = 1.0, 0.0, set()
        for line in lines:
            if line.probability > previous:
                raise ValueError("scorelines must be listed most likely first")
            if line.home < home or line.away < away:
                raise ValueError("a scoreline is below the score predicted for")
            previous, total = line.probability, total + line.probability
            seen.add((line.home, line.away))
        if len(seen) != len(lines):
            raise ValueError("scorelines must differ")
        if total > 1.0 + SUM_TOLERANCE:
            raise ValueError(f"scoreline probabilities sum to {total!r}, above 1")

    @classmethod
    def build(
        cls,
        *,
        match_id: str,
        trigger: Trigger,
        probabilities: Mapping[str, float] | Iterable[float],
        model: ModelRef,
        features_version: str,
        event_ts: dt.datetime,
        status: Status,
        minute: int,
        home_goals: int,
        away_goals: int,
        home_red_cards: int = 0,
        away_red_cards: int = 0,
        request_id: str | None = None,
        seq: int | None = None,
        predicted_at: dt.datetime | None = None,
        goals: GoalForecastRow | None = None,
    ) -> Prediction:
        """Build from raw model probabilities and, if any, the goal forecasts of the same
        state; ``predicted_at`` defaults to now (UTC)."""
        probs = Probabilities.from_raw(probabilities)
        return cls(
            match_id=match_id,
            trigger=trigger,
            request_id=request_id,
            seq=seq,
            status=status,
            minute=minute,
            home_goals=home_goals,
            away_goals=away_goals,
            home_red_cards=home_red_cards,
            away_red_cards=away_red_cards,
            probabilities=probs,
            predicted=probs.argmax,
            model=model,
            features_version=features_version,
            event_ts=event_ts,
            predicted_at=predicted_at or dt.datetime.now(dt.UTC),
            **(goals.fields() if goals is not None else {}),
        )

    @classmethod
    def for_livescore(
        cls,
        event: Livescore,
        probabilities: Mapping[str, float] | Iterable[float],
        *,
        model: ModelRef,
        features_version: str,
        predicted_at: dt.datetime | None = None,
        goals: GoalForecastRow | None = None,
    ) -> Prediction:
        """The answer to one livescore event, for the state that event describes."""
        return cls.build(
            match_id=event.match_id,
            trigger="livescore",
            probabilities=probabilities,
            model=model,
            features_version=features_version,
            event_ts=event.ts,
            status=event.status,
            minute=event.minute,
            home_goals=event.home_goals,
            away_goals=event.away_goals,
            home_red_cards=event.home_red_cards,
            away_red_cards=event.away_red_cards,
            seq=event.seq,
            predicted_at=predicted_at,
            goals=goals,
        )

    @classmethod
    def for_request(
        cls,
        request: MatchRequest,
        probabilities: Mapping[str, float] | Iterable[float],
        *,
        model: ModelRef,
        features_version: str,
        received_at: dt.datetime,
        state: Livescore | None = None,
        predicted_at: dt.datetime | None = None,
        goals: GoalForecastRow | None = None,
    ) -> Prediction:
        """The answer to one request, for the latest live ``state`` or, if None, pre-match."""
        if state is not None and state.match_id != request.match_id:
            raise ValueError(f"state is for {state.match_id!r}, not {request.match_id!r}")
        return cls.build(
            match_id=request.match_id,
            trigger="request",
            probabilities=probabilities,
            model=model,
            features_version=features_version,
            event_ts=received_at,
            status=state.status if state else "scheduled",
            minute=state.minute if state else 0,
            home_goals=state.home_goals if state else 0,
            away_goals=state.away_goals if state else 0,
            home_red_cards=state.home_red_cards if state else 0,
            away_red_cards=state.away_red_cards if state else 0,
            request_id=request.request_id,
            seq=state.seq if state else None,
            predicted_at=predicted_at,
            goals=goals,
        )

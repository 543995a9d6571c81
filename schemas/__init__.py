"""Pydantic v2 models of every record on the wire (the contract: docs/contract.md)."""

from schemas.common import MAX_ID_LENGTH, OUTCOMES, Outcome, Status
from schemas.dead_letter import DeadLetter, DeadLetterReason, Encoding, ErrorType
from schemas.errors import classify_validation_error
from schemas.livescore import Livescore
from schemas.match_forecasts import PHASES, Forecast, HeldResult, Phase, phase_of
from schemas.match_request import MatchRequest
from schemas.match_result import MatchResult
from schemas.match_score import MatchScore
from schemas.match_state import MatchState, MatchTeams
from schemas.prediction import (
    DRIFT_TOLERANCE,
    MAX_SCORELINES,
    SUM_TOLERANCE,
    ExpectedGoals,
    GoalForecastRow,
    ModelRef,
    Prediction,
    Probabilities,
    Scoreline,
    Trigger,
)
from schemas.timeline_point import TimelinePoint

__all__ = [
    "DRIFT_TOLERANCE",
    "MAX_ID_LENGTH",
    "MAX_SCORELINES",
    "OUTCOMES",
    "PHASES",
    "SUM_TOLERANCE",
    "DeadLetter",
    "DeadLetterReason",
    "Encoding",
    "ErrorType",
    "ExpectedGoals",
    "Forecast",
    "GoalForecastRow",
    "HeldResult",
    "Livescore",
    "MatchRequest",
    "MatchResult",
    "MatchScore",
    "MatchState",
    "MatchTeams",
    "ModelRef",
    "Outcome",
    "Phase",
    "Prediction",
    "Probabilities",
    "Scoreline",
    "Status",
    "TimelinePoint",
    "Trigger",
    "classify_validation_error",
    "phase_of",
]

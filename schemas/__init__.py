"""Pydantic v2 models of every record on the wire (see ../shared/CONTRACT.md)."""

from schemas.common import MAX_ID_LENGTH, OUTCOMES, Outcome, Status
from schemas.dead_letter import DeadLetter, DeadLetterReason, Encoding, ErrorType
from schemas.errors import classify_validation_error
from schemas.livescore import Livescore
from schemas.match_request import MatchRequest
from schemas.match_result import MatchResult
from schemas.prediction import (
    DRIFT_TOLERANCE,
    SUM_TOLERANCE,
    ModelRef,
    Prediction,
    Probabilities,
    Trigger,
)

__all__ = [
    "DRIFT_TOLERANCE",
    "MAX_ID_LENGTH",
    "OUTCOMES",
    "SUM_TOLERANCE",
    "DeadLetter",
    "DeadLetterReason",
    "Encoding",
    "ErrorType",
    "Livescore",
    "MatchRequest",
    "MatchResult",
    "ModelRef",
    "Outcome",
    "Prediction",
    "Probabilities",
    "Status",
    "Trigger",
    "classify_validation_error",
]

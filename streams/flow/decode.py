"""Bytes to validated records: the input boundary."""

from __future__ import annotations

from pydantic import ValidationError

from schemas import DeadLetterReason, Livescore, MatchRequest, classify_validation_error
from streams.flow.records import RawRecord

InputRecord = Livescore | MatchRequest


def decode(
    raw: RawRecord, model: type[Livescore] | type[MatchRequest]
) -> InputRecord | DeadLetterReason:
    """Validate ``raw.value`` straight from bytes; the reason when it is not usable.

    The key must be the ``match_id`` (or absent): a different key would put the match's
    events on another partition than its state, breaking per-match ordering.
    """
    try:
        record = model.model_validate_json(raw.value or b"")
    except ValidationError as exc:
        return classify_validation_error(exc)
    if raw.key is not None and raw.key != record.match_id.encode():
        shown = raw.key[:64].decode("utf-8", "replace")
        return DeadLetterReason(
            type="schema", message=f"key {shown!r} is not the match_id {record.match_id!r}"
        )
    return record

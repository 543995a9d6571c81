"""Turn a failed ``model_validate_json`` into a dead-letter reason."""

from __future__ import annotations

from typing import Final

from pydantic import ValidationError

from schemas.dead_letter import DeadLetterReason

#: How many field errors the message lists before summarising the rest.
MAX_LISTED_ERRORS: Final = 3
# Error types pydantic reports at the root when the JSON parsed but is not an object.
_NOT_AN_OBJECT: Final = frozenset({"model_type", "model_attributes_type", "dict_type"})


def classify_validation_error(exc: ValidationError) -> DeadLetterReason:
    """Classify an error of ``Model.model_validate_json(raw)`` for the dead letter.

    ``invalid_json``: the bytes are not UTF-8 JSON (pydantic reports bad UTF-8 and
    syntax errors alike as ``json_invalid``), or the JSON is not an object.
    ``schema``: a JSON object whose fields are missing or wrong. The message lists the
    first few problems as ``field: reason`` and never echoes the input.
    """
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    for error in errors:
        if error["type"] == "json_invalid":
            return DeadLetterReason(type="invalid_json", message=error["msg"])
        if not error["loc"] and error["type"] in _NOT_AN_OBJECT:
            return DeadLetterReason(type="invalid_json", message="JSON value is not an object")
    parts = [_describe(error["loc"], error["msg"]) for error in errors[:MAX_LISTED_ERRORS]]
    if len(errors) > MAX_LISTED_ERRORS:
        parts.append(f"and {len(errors) - MAX_LISTED_ERRORS} more")
    return DeadLetterReason(type="schema", message="; ".join(parts))


def _describe(loc: tuple[int | str, ...], msg: str) -> str:
    # Root-level errors (cross-field validators) have no location to name.
    where = ".".join(str(part)[:64] for part in loc)
    msg = msg.removeprefix("Value error, ")  # pydantic's prefix adds nothing for a reader
    return f"{where}: {msg}" if where else msg

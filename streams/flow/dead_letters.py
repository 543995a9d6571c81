"""The one error contract: any failure on an input becomes a counted, logged dead letter."""

from __future__ import annotations

from typing import Final

import structlog

from schemas import DeadLetter, ErrorType
from streams.flow.records import RawRecord
from streams.metrics import Metrics

log = structlog.get_logger(__name__)

#: Largest original payload copied into a dead letter. Base64 grows bytes by 4/3, and a
#: dead letter the broker refuses (1 MiB by default) would stall its partition; the full
#: record stays at its source position, which the dead letter names.
MAX_DEAD_LETTER_PAYLOAD: Final = 256 * 1024


def dead_letter(raw: RawRecord, reason: ErrorType, message: str, metrics: Metrics) -> DeadLetter:
    """Wrap ``raw`` with its reason; count it by reason and log it once."""
    payload = raw.value
    if payload is not None and len(payload) > MAX_DEAD_LETTER_PAYLOAD:
        # The note goes first: the schema cuts long messages at the end.
        message = (
            f"[payload cut to its first {MAX_DEAD_LETTER_PAYLOAD} of {len(payload)} bytes; "
            f"the whole record is at {raw.location}] {message}"
        )
        payload = payload[:MAX_DEAD_LETTER_PAYLOAD]
    letter = DeadLetter.from_raw(
        source_topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        key=raw.key,
        payload=payload,
        error_type=reason,
        message=message,
    )
    letter._trace = raw.trace  # its headers carry a child of the input's trace
    metrics.dead_letters.labels(reason=reason).inc()
    log.info("dead_letter", at=raw.location, reason=reason, message=letter.error.message[:200])
    return letter

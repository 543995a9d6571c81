"""The one error contract: any failure on an input becomes a counted, logged dead letter."""

from __future__ import annotations

import structlog

from schemas import DeadLetter, ErrorType
from streams.metrics import Metrics
from streams.records import RawRecord

log = structlog.get_logger(__name__)


def dead_letter(raw: RawRecord, reason: ErrorType, message: str, metrics: Metrics) -> DeadLetter:
    """Wrap ``raw`` with its reason; count it by reason and log it once."""
    letter = DeadLetter.from_raw(
        source_topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        key=raw.key,
        payload=raw.value,
        error_type=reason,
        message=message,
    )
    metrics.dead_letters.labels(reason=reason).inc()
    log.info("dead_letter", at=raw.location, reason=reason, message=letter.error.message[:200])
    return letter

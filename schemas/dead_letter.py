"""The ``predictions-dlq`` output record: every input that did not become a prediction."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Final, Literal, Self

from pydantic import Field, PrivateAttr, field_validator, model_validator

from schemas.common import OutputRecord, Timestamp

ErrorType = Literal["invalid_json", "schema", "unknown_match", "model_error", "internal"]
Encoding = Literal["utf-8", "base64"]

#: Longest error message kept; the rest is cut so one odd exception cannot bloat the DLQ.
MAX_MESSAGE_LENGTH: Final = 1000


class DeadLetterReason(OutputRecord):
    """Why a record was dead-lettered.

    ``type`` is one of: ``invalid_json`` (not UTF-8 JSON, or not a JSON object),
    ``schema`` (a JSON object with missing or bad fields), ``unknown_match`` (the match
    is in no feature table and the record does not name its teams), ``model_error``
    (the model failed or returned no valid probabilities), ``internal`` (anything else:
    a bug of this service).
    """

    type: ErrorType = Field(description="Machine-readable reason.")
    message: str = Field(description="Readable detail, cut to MAX_MESSAGE_LENGTH chars.")

    @field_validator("message")
    @classmethod
    def _shorten(cls, message: str) -> str:
        # Cut rather than reject: building a dead letter must never fail on the message.
        if len(message) <= MAX_MESSAGE_LENGTH:
            return message
        return message[: MAX_MESSAGE_LENGTH - 1] + "…"


class DeadLetter(OutputRecord):
    """One ``predictions-dlq`` record: where the bad input was, its bytes, and why.

    ``key`` and ``payload`` hold the original bytes as text when they decode as UTF-8,
    else as base64; ``key_encoding``/``payload_encoding`` say which, and are None
    exactly when the value is None (a null key or a tombstone). Build with ``from_raw``.
    """

    source_topic: str = Field(min_length=1, description="Topic the input was read from.")
    partition: int = Field(ge=0, description="Its partition.")
    offset: int = Field(ge=0, description="Its offset.")
    key: str | None = Field(description="Original key bytes as text or base64.")
    key_encoding: Encoding | None = Field(description="How key is encoded; None if no key.")
    payload: str | None = Field(description="Original value bytes as text or base64.")
    payload_encoding: Encoding | None = Field(description="How payload is encoded.")
    error: DeadLetterReason
    received_at: Timestamp
    #: The input's W3C trace context (``streams.flow.trace_context.TraceParent``), carried
    #: from the input to the dead letter's Kafka headers; not part of the record's JSON.
    _trace: object | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _encodings_match_values(self) -> Self:
        for value, encoding, name in (
            (self.key, self.key_encoding, "key"),
            (self.payload, self.payload_encoding, "payload"),
        ):
            if (value is None) != (encoding is None):
                raise ValueError(f"{name}_encoding must be None exactly when {name} is None")
        return self

    @classmethod
    def from_raw(
        cls,
        source_topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        payload: bytes | None,
        error_type: ErrorType,
        message: str,
        received_at: dt.datetime | None = None,
    ) -> DeadLetter:
        """Wrap the original bytes; ``received_at`` defaults to now (UTC)."""
        key_text, key_encoding = encode_bytes(key)
        payload_text, payload_encoding = encode_bytes(payload)
        return cls(
            source_topic=source_topic,
            partition=partition,
            offset=offset,
            key=key_text,
            key_encoding=key_encoding,
            payload=payload_text,
            payload_encoding=payload_encoding,
            error=DeadLetterReason(type=error_type, message=message),
            received_at=received_at or dt.datetime.now(dt.UTC),
        )

    @property
    def location(self) -> str:
        """``topic[partition]@offset``, the form used in logs."""
        return f"{self.source_topic}[{self.partition}]@{self.offset}"

    def key_bytes(self) -> bytes | None:
        """The original key bytes."""
        return decode_text(self.key, self.key_encoding)

    def payload_bytes(self) -> bytes | None:
        """The original payload bytes (for replaying a fixed record)."""
        return decode_text(self.payload, self.payload_encoding)


def encode_bytes(raw: bytes | None) -> tuple[str | None, Encoding | None]:
    """``raw`` as (text, "utf-8") when it decodes, else (base64, "base64"); None stays None."""
    if raw is None:
        return None, None
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


def decode_text(text: str | None, encoding: Encoding | None) -> bytes | None:
    """The inverse of ``encode_bytes``."""
    if text is None:
        return None
    if encoding == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"not base64: {exc}") from exc
    return text.encode("utf-8")

"""A consumed Kafka record as the pipeline sees it, independent of Faust's event type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.flow.trace_context import TraceParent, from_headers


@dataclass(frozen=True, slots=True)
class RawRecord:
    """The original bytes and position of one input record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float  # Kafka record timestamp, seconds since the epoch
    #: The W3C trace context of its headers, if it had a valid one: its outputs carry a child.
    trace: TraceParent | None = None

    @property
    def location(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"

    @classmethod
    def from_event(cls, event: Any) -> RawRecord:
        """From a Faust event of a raw-serialised topic."""
        message = event.message
        return cls(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            timestamp=message.timestamp,
            # Most records have no headers: the parse runs only for those that do.
            trace=from_headers(message.headers) if message.headers else None,
        )

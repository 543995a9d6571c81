"""W3C Trace Context through Kafka: an input's ``traceparent``, and its child on the outputs.

An input record may carry the ``traceparent`` (and ``tracestate``) headers of the
producer's span (https://www.w3.org/TR/trace-context/). Its prediction or dead letter
carries a child: the same trace id, a new span id (the worker's span that processed the
input, whose parent is the input's span), the same flags, the same ``tracestate`` (its
members as they came, in OpenTelemetry's spelling: no blanks around the commas).

Without export (no ``OTEL_EXPORTER_OTLP_ENDPOINT``) the child span exists only as the ids
on the output's headers, and an input without a valid ``traceparent`` gets no trace
headers on its outputs: a header-less event costs one truthiness test. With export
(:mod:`streams.ops.traces`) the span is a real OpenTelemetry span, and an input without a
trace context starts a new trace, so every output can be found in the tracing backend.

Parsing and validation are OpenTelemetry's (``TraceContextTextMapPropagator``, the same
rules the exporting side and every other OpenTelemetry service apply); it runs only for a
record that has a ``traceparent`` header, so the others build no OpenTelemetry context.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from opentelemetry.trace import format_span_id, format_trace_id, get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from streams.sinks.kafka_sender import Headers

TRACEPARENT: Final = "traceparent"
TRACESTATE: Final = "tracestate"

#: Stateless: one for the process.
_PROPAGATOR: Final = TraceContextTextMapPropagator()


@dataclass(frozen=True, slots=True)
class TraceParent:
    """A parsed, valid ``traceparent`` (and the ``tracestate`` that came with it)."""

    trace_id: str  # 32 lowercase hex digits, not all zero
    span_id: str  # 16 lowercase hex digits, not all zero: the parent span
    flags: str  # 2 lowercase hex digits; bit 0 is "sampled"
    state: str | None = None

    @property
    def sampled(self) -> bool:
        return bool(int(self.flags, 16) & 1)

    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def child(self, span_id: str | None = None) -> TraceParent:
        """The context of a child span: same trace, flags and state, a new span id."""
        return TraceParent(self.trace_id, span_id or new_span_id(), self.flags, self.state)

    def headers(self) -> Headers:
        """This context as the Kafka headers of an output record."""
        out = [(TRACEPARENT, self.header().encode())]
        if self.state:
            out.append((TRACESTATE, self.state.encode()))
        return out


def _text(value: str | bytes | None) -> str | None:
    """A header value as text; None when absent or not ASCII (the spec's headers are)."""
    if value is None or isinstance(value, str):
        return value
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        return None


def _extract(traceparent: str | bytes | None, tracestate: str | bytes | None) -> TraceParent | None:
    """The context OpenTelemetry's propagator finds in these two header values; None when
    the ``traceparent`` is absent or invalid."""
    parent = _text(traceparent)
    if not parent:
        return None
    carrier = {TRACEPARENT: parent}
    state = _text(tracestate)
    if state:
        carrier[TRACESTATE] = state
    context = get_current_span(_PROPAGATOR.extract(carrier)).get_span_context()
    if not context.is_valid:
        return None
    return TraceParent(
        format_trace_id(context.trace_id),
        format_span_id(context.span_id),
        f"{context.trace_flags:02x}",
        # An invalid or over-long tracestate comes back empty: dropped, the parent kept.
        context.trace_state.to_header() if context.trace_state else None,
    )


def parse_traceparent(value: str | bytes | None) -> TraceParent | None:
    """The context in a ``traceparent`` value; None when it is absent or invalid.

    Per the spec: version ``ff`` is invalid; version ``00`` is exactly 55 characters; a
    later version is parsed as 00 when its first 55 characters look like it (and a 56th,
    if any, is ``-``); ids are lowercase hex and not all zero.
    """
    return _extract(value, None)


def from_headers(headers: Sequence[tuple[str, bytes | None]] | None) -> TraceParent | None:
    """The trace context of a consumed record's headers (the first ``traceparent`` and the
    first ``tracestate`` win); None without one, or with an invalid one (its
    ``tracestate`` is then ignored too, as the spec says)."""
    if not headers:
        return None
    parent: tuple[bytes | None] | None = None  # a 1-tuple: a header may have no value
    state: bytes | None = None
    for name, value in headers:
        if name == TRACEPARENT and parent is None:
            parent = (value,)
        elif name == TRACESTATE and state is None:
            state = value
    # Records with other headers only stop here, before any OpenTelemetry work.
    return _extract(parent[0], state) if parent is not None else None


def new_span_id() -> str:
    """16 random lowercase hex digits, not all zero (the ids need not be secret: the
    OpenTelemetry SDK makes its own the same way)."""
    while True:
        bits = random.getrandbits(64)
        if bits:
            return f"{bits:016x}"


@dataclass(frozen=True, slots=True)
class Source:
    """Where an output's input was, for the span that processed it."""

    topic: str
    partition: int
    offset: int


class Span(Protocol):
    """What the publisher ends once an output is acknowledged (an OpenTelemetry span)."""

    def end(self, end_time: int | None = None) -> None: ...


class Tracing:
    """Trace headers for outputs, without export: a child id for inputs that carry a
    context, nothing for the others. :class:`streams.ops.traces.ExportedTracing` is the
    same with real spans."""

    #: True when an input without a context still gets a span (and its outputs headers).
    exporting: bool = False

    def child(
        self,
        parent: TraceParent | None,
        source: Source,
        outcome: str,
        started_ns: int | None = None,
    ) -> tuple[Headers | None, Span | None]:
        """The headers of an output of the input at ``source`` (``outcome`` is
        ``prediction`` or an error type), and the span to end once it is acknowledged."""
        if parent is None:
            return None, None
        return parent.child().headers(), None

    def end(self, spans: Sequence[Span], error: BaseException | None = None) -> None:
        """End ``spans`` (the outputs were acknowledged, or failed with ``error``)."""

"""W3C Trace Context through Kafka: an input's ``traceparent``, and its child on the outputs.

An input record may carry the ``traceparent`` (and ``tracestate``) headers of the
producer's span (https://www.w3.org/TR/trace-context/). Its prediction or dead letter
carries a child: the same trace id, a new span id (the worker's span that processed the
input, whose parent is the input's span), the same flags, the ``tracestate`` unchanged.

Without export (no ``OTEL_EXPORTER_OTLP_ENDPOINT``) the child span exists only as the ids
on the output's headers, and an input without a valid ``traceparent`` gets no trace
headers on its outputs: a header-less event costs one truthiness test. With export
(:mod:`streams.ops.traces`) the span is a real OpenTelemetry span, and an input without a
trace context starts a new trace, so every output can be found in the tracing backend.

Parsing is plain string work on the hot path: no OpenTelemetry import here.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from streams.sinks.kafka_sender import Headers

TRACEPARENT: Final = "traceparent"
TRACESTATE: Final = "tracestate"

_HEX: Final = frozenset("0123456789abcdef")
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16
#: A ``traceparent`` of version 00 is exactly this long: 00-<32>-<16>-<2>.
_LENGTH: Final = 55
#: The spec's limit on a ``tracestate`` header (32 members of at most 256 chars each
#: would be more; vendors cut at 512): longer ones are dropped, not forwarded.
MAX_TRACESTATE: Final = 512


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


def _hex(text: str) -> bool:
    return _HEX.issuperset(text)


def parse_traceparent(value: str | bytes | None) -> TraceParent | None:
    """The context in a ``traceparent`` value; None when it is absent or invalid.

    Per the spec: version ``ff`` is invalid; version ``00`` is exactly 55 characters; a
    later version is parsed as 00 when its first 55 characters look like it (and a 56th,
    if any, is ``-``); ids are lowercase hex and not all zero.
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    value = value.strip(" \t")
    if len(value) < _LENGTH:
        return None
    version = value[:2]
    if not _hex(version) or version == "ff":
        return None
    if version == "00" and len(value) != _LENGTH:
        return None
    if len(value) > _LENGTH and value[_LENGTH] != "-":
        return None
    if value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    trace_id, span_id, flags = value[3:35], value[36:52], value[53:55]
    if not (_hex(trace_id) and _hex(span_id) and _hex(flags)):
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return TraceParent(trace_id, span_id, flags)


def _tracestate(value: bytes) -> str | None:
    """A ``tracestate`` to forward unchanged: printable ASCII, within the length limit."""
    if not value or len(value) > MAX_TRACESTATE:
        return None
    try:
        text = value.decode("ascii").strip(" \t")
    except UnicodeDecodeError:
        return None
    return text if text and text.isprintable() else None


def from_headers(headers: Sequence[tuple[str, bytes | None]] | None) -> TraceParent | None:
    """The trace context of a consumed record's headers (the first ``traceparent`` wins);
    None without one, or with an invalid one (its ``tracestate`` is then ignored too, as
    the spec says)."""
    if not headers:
        return None
    parent: TraceParent | None = None
    state: str | None = None
    for name, value in headers:
        if name == TRACEPARENT and parent is None:
            parent = parse_traceparent(value)
            if parent is None:
                return None
        elif name == TRACESTATE and state is None and value is not None:
            state = _tracestate(value)
    if parent is None:
        return None
    return TraceParent(parent.trace_id, parent.span_id, parent.flags, state) if state else parent


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

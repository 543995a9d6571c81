"""Exported traces: OpenTelemetry spans over OTLP/HTTP, when ``OTEL_EXPORTER_OTLP_ENDPOINT``
is set; nothing at all (not even an import of the SDK) when it is not.

Each input that becomes an output gets one span, ``{topic} process`` (kind CONSUMER),
child of the input's ``traceparent`` or the root of a new trace when it had none; it
starts when the batch's work starts and ends when the broker acknowledged the output, and
its context is what the output's ``traceparent`` header carries
(:mod:`streams.flow.trace_context`).

Why not ``faust.contrib.opentelemetry``: its sensor opens a span per event around Faust's
delivery of that event to the stream and keeps it *current* (a contextvar) meanwhile. The
worker takes events in batches (``streams.faust_glue.ready_take``) and computes them in
the agent's task after delivery, so that span would end before the event is processed,
and a batch mixes many traces, which no single current span can stand for. It also never
writes headers (it leaves that to the aiokafka instrumentation, which injects whatever
span is current at send time), and it runs for every event even with tracing off. Its
attribute names (``messaging.*``) are followed here.

The SDK's own variables still apply: ``OTEL_SERVICE_NAME`` (default ``soccerpredict``),
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_HEADERS``, and ``OTEL_BSP_*`` for the
batch span processor (e.g. ``OTEL_BSP_SCHEDULE_DELAY``, in milliseconds).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import mode

from streams.flow.trace_context import Headers, Source, Span, TraceParent, Tracing
from streams.settings import Settings

INSTRUMENTATION_NAME = "soccerpredict"


def traces_url(endpoint: str) -> str:
    """OTLP/HTTP's rule: the traces signal is at ``{OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces``."""
    return f"{endpoint.rstrip('/')}/v1/traces"


class ExportedTracing(Tracing):
    """:class:`Tracing` with a real span per output, exported by ``provider``."""

    exporting = True

    def __init__(self, provider: Any, consumer_group: str) -> None:
        from opentelemetry import trace

        self._trace = trace
        self.provider = provider
        self.consumer_group = consumer_group
        self.tracer = provider.get_tracer(INSTRUMENTATION_NAME)

    def child(
        self,
        parent: TraceParent | None,
        source: Source,
        outcome: str,
        started_ns: int | None = None,
    ) -> tuple[Headers | None, Span | None]:
        trace = self._trace
        context = None
        if parent is not None:
            remote = trace.SpanContext(
                int(parent.trace_id, 16),
                int(parent.span_id, 16),
                is_remote=True,
                trace_flags=trace.TraceFlags(int(parent.flags, 16)),
                trace_state=trace.TraceState.from_header([parent.state] if parent.state else []),
            )
            context = trace.set_span_in_context(trace.NonRecordingSpan(remote))
        span = self.tracer.start_span(
            f"{source.topic} process",
            context=context,
            kind=trace.SpanKind.CONSUMER,
            start_time=started_ns,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.name": "process",
                "messaging.operation.type": "process",
                "messaging.destination.name": source.topic,
                "messaging.destination.partition.id": str(source.partition),
                "messaging.kafka.message.offset": source.offset,
                "messaging.consumer.group.name": self.consumer_group,
                "soccerpredict.outcome": outcome,
            },
        )
        made = span.get_span_context()
        # The sampler may drop the span (an unsampled parent): its ids still go on, as the
        # spec asks of a participant that does not record.
        child = TraceParent(
            f"{made.trace_id:032x}",
            f"{made.span_id:016x}",
            f"{int(made.trace_flags):02x}",
            parent.state if parent is not None else None,
        )
        return child.headers(), span

    def end(self, spans: Sequence[Span], error: BaseException | None = None) -> None:
        status = None
        if error is not None:
            status = self._trace.Status(self._trace.StatusCode.ERROR, type(error).__name__)
        for span in spans:
            if status is not None:
                span.set_status(status)  # type: ignore[attr-defined]  # an SDK span
            span.end()


class TraceExport(mode.Service):
    """Owns the tracer provider: flushes and closes the exporter when the worker stops."""

    def __init__(self, tracing: ExportedTracing) -> None:
        super().__init__()
        self.tracing = tracing

    async def on_stop(self) -> None:
        # shutdown() flushes the batch processor (a blocking HTTP post, at most its
        # timeout), so the last spans of a stopping worker are not lost.
        await self.loop.run_in_executor(None, self.tracing.provider.shutdown)


def tracing_for(settings: Settings) -> tuple[Tracing, TraceExport | None]:
    """The worker's tracing: headers only (and no SDK import) without an endpoint; spans
    exported over OTLP/HTTP with one, with the service that flushes them on stop."""
    endpoint = settings.otel_exporter_otlp_endpoint.strip()
    if not endpoint:
        return Tracing(), None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or "soccerpredict"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(traces_url(endpoint))))
    tracing = ExportedTracing(provider, settings.consumer_group)
    return tracing, TraceExport(tracing)

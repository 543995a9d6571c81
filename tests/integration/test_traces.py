"""Trace context through a real worker: an input's trace id arrives on its prediction and
its dead letter, as a child span, and the spans reach an OTLP/HTTP receiver."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from devstack.worker import WorkerProcess
from streams.flow.trace_context import TraceParent, parse_traceparent
from streams.settings import Settings
from tests.conftest import RunningStack, topics_deleted_after
from tests.integration.conftest import TrainedRegistry
from tests.integration.module_worker import module_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"
OTHER_PARENT = "b7ad6b7169203331"


class OtlpReceiver:
    """The smallest OTLP/HTTP trace receiver: keeps every span POSTed to /v1/traces."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.paths: list[str] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.paths.append(self.path)
                request = ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        received.spans.extend(scope.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # quiet: the test reports what matters
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def by_span_id(self) -> dict[str, Any]:
        return {span.span_id.hex(): span for span in self.spans}


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    made = OtlpReceiver()
    made.thread.start()
    try:
        yield made
    finally:
        made.server.shutdown()


@pytest.fixture(scope="module")
def traced_worker(
    stack: RunningStack,
    trained_registry: TrainedRegistry,
    receiver: OtlpReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WorkerProcess]:
    root = tmp_path_factory.mktemp("traces")
    settings = module_settings(
        stack, trained_registry, root, otel_exporter_otlp_endpoint=receiver.endpoint
    )
    with topics_deleted_after(settings):
        # The SDK's own knob: export each span within 0.1 s instead of 5 s, to stay fast.
        process = WorkerProcess(
            settings, Path(root) / "worker.log", {"OTEL_BSP_SCHEDULE_DELAY": "100"}
        )
        process.launch()
        try:
            process.wait_ready()
            yield process
        finally:
            process.stop()


def traceparent(trace_id: str, parent_id: str) -> list[tuple[str, bytes]]:
    return [("traceparent", f"00-{trace_id}-{parent_id}-01".encode()), ("tracestate", b"t=1")]


async def send(settings: Settings, topic: str, records: list[tuple[bytes, bytes, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send(topic, value, key=key, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()


async def read_with_headers(
    settings: Settings, topic: str, want: int, timeout: float = 30
) -> list[tuple[dict[str, Any], dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    out: list[tuple[dict[str, Any], dict[str, bytes]]] = []
    try:
        async with asyncio.timeout(timeout):
            while len(out) < want:
                for messages in (await consumer.getmany(timeout_ms=200)).values():
                    out.extend((json.loads(m.value), dict(m.headers)) for m in messages)
    finally:
        await consumer.stop()
    return out


def child_of(headers: dict[str, bytes], trace_id: str, parent_id: str) -> TraceParent:
    child = parse_traceparent(headers.get("traceparent"))
    assert child is not None, headers
    assert child.trace_id == trace_id and child.span_id != parent_id and child.flags == "01"
    assert headers.get("tracestate") == b"t=1"
    return child


async def test_outputs_carry_a_child_of_the_input_trace_and_spans_are_exported(
    traced_worker: WorkerProcess, trained_registry: TrainedRegistry, receiver: OtlpReceiver
) -> None:
    settings = traced_worker.settings
    known, plain = trained_registry.match_ids()[:2]

    def event(match_id: str) -> bytes:
        body = {
            "match_id": match_id,
            "seq": 1,
            "ts": "2024-06-14T19:10:00Z",
            "status": "live",
            "minute": 10,
            "home_goals": 0,
            "away_goals": 0,
        }
        return json.dumps(body).encode()

    await send(
        settings,
        settings.livescores_topic,
        [
            (known.encode(), event(known), traceparent(TRACE, PARENT)),
            (b"bad", b"{not json", traceparent(OTHER_TRACE, OTHER_PARENT)),
            (plain.encode(), event(plain), None),  # no context: export starts a trace
        ],
    )
    predictions = {
        r["match_id"]: h
        for r, h in await read_with_headers(settings, settings.predictions_topic, 2)
    }
    [(letter, letter_headers)] = await read_with_headers(
        settings, settings.predictions_dlq_topic, 1
    )
    assert letter["error"]["type"] == "invalid_json"

    prediction_span = child_of(predictions[known], TRACE, PARENT)
    letter_span = child_of(letter_headers, OTHER_TRACE, OTHER_PARENT)
    fresh = parse_traceparent(predictions[plain]["traceparent"])
    assert fresh is not None and fresh.trace_id not in (TRACE, OTHER_TRACE)
    assert "tracestate" not in predictions[plain]

    # Each output's span id is an exported span whose parent is the input's span.
    wanted = {prediction_span.span_id, letter_span.span_id, fresh.span_id}
    for _ in range(200):  # the worker exports every 0.1 s
        if wanted <= set(receiver.by_span_id()):
            break
        await asyncio.sleep(0.1)
    spans = receiver.by_span_id()
    assert set(receiver.paths) == {"/v1/traces"}
    for child, trace_id, parent_id in (
        (prediction_span, TRACE, PARENT),
        (letter_span, OTHER_TRACE, OTHER_PARENT),
    ):
        span = spans[child.span_id]
        assert span.trace_id.hex() == trace_id and span.parent_span_id.hex() == parent_id
        assert span.name == f"{settings.livescores_topic} process"
    assert spans[fresh.span_id].parent_span_id == b""  # a root: its input had no context
    outcome = {a.key: a.value.string_value for a in spans[letter_span.span_id].attributes}[
        "soccerpredict.outcome"
    ]
    assert outcome == "invalid_json"

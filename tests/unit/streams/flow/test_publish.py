"""The publisher against an in-memory sender: acks before Redis, a per-record retry policy."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
)

from schemas import ModelRef, Prediction
from streams.flow import publish
from streams.flow.dead_letters import dead_letter
from streams.flow.publish import Outgoing, Published, Publisher, PublishError, is_retriable
from streams.metrics import Metrics
from streams.sinks.memory import InMemorySender
from streams.sinks.redis_latest import LatestValue
from tests.factories import livescore, raw

MODEL = ModelRef(name="soccer_clf", version="3", alias="champion", run_id="r")


class LatestStub:
    """Stands in for the Redis sink: records what it was asked to write, and when."""

    def __init__(self, sent: InMemorySender) -> None:
        self.sent = sent
        self.writes: list[tuple[list[LatestValue], int]] = []

    async def write(self, values: Iterable[LatestValue]) -> int:
        self.writes.append((list(values), len(self.sent.records)))
        return 0


def publisher() -> tuple[Publisher, InMemorySender, InMemorySender, LatestStub]:
    predictions, letters = InMemorySender(), InMemorySender()
    latest = LatestStub(predictions)
    made = Publisher(
        predictions=predictions,
        dead_letters=letters,
        results=InMemorySender(),
        shadow=InMemorySender(),
        scores=InMemorySender(),
        latest=latest,  # type: ignore[arg-type]  # the sink's one method the publisher uses
        redis_key=lambda match_id: f"prediction:{match_id}",
        metrics=Metrics(),
    )
    return made, predictions, letters, latest


def published(seq: int) -> Published:
    event = livescore(seq=seq)
    return Published(
        raw(b"{}"),
        Prediction.for_livescore(event, [0.5, 0.3, 0.2], model=MODEL, features_version="f"),
    )


@pytest.fixture(autouse=True)
def no_backoff_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publish, "RETRY_INITIAL_SECONDS", 0.001)
    monkeypatch.setattr(publish, "RETRY_MAXIMUM_SECONDS", 0.002)


async def test_outputs_are_acknowledged_before_redis_and_listeners_hear_of_them() -> None:
    made, predictions, letters, latest = publisher()
    heard: list[Any] = []
    made.on_published.append(heard.append)
    letter = dead_letter(raw(b"{nope"), "invalid_json", "bad", Metrics())

    await made.publish([published(1), published(2)], [letter], "livescore", None)

    assert [key for key, _ in predictions.records] == [b"m1", b"m1"]
    assert len(letters.records) == 1
    values, acked_before = latest.writes[0]
    assert acked_before == 2, "Redis is written only after the broker acknowledged"
    assert [(v.key, v.rank) for v in values] == [("prediction:m1", 1), ("prediction:m1", 2)]
    assert [p.seq for p in heard[0]] == [1, 2]


async def test_only_the_failed_records_are_sent_again() -> None:
    made, predictions, _, _ = publisher()
    predictions.fail_next(KafkaConnectionError("broker down"), NotLeaderForPartitionError())

    await made.publish([published(1), published(2), published(3)], [], "livescore", None)

    seqs = sorted(Prediction.model_validate_json(v).seq for _, v in predictions.records)
    assert seqs == [1, 2, 3], "each record lands once"
    assert predictions.attempts == 5, "3 sends, then the 2 that failed"


async def test_a_permanent_refusal_fails_even_when_retriable_errors_come_first() -> None:
    # The decision is per record: a retriable first error must not hide a permanent one.
    made, predictions, _, latest = publisher()
    predictions.fail_next(KafkaConnectionError("down"), MessageSizeTooLargeError())

    with pytest.raises(PublishError, match="refused 1 of 2"):
        await made.publish([published(1), published(2)], [], "livescore", None)
    assert latest.writes == []


async def test_a_broker_outage_is_waited_out() -> None:
    made, predictions, _, _ = publisher()
    predictions.fail_next(*[KafkaConnectionError("down")] * 6)
    await asyncio.wait_for(made.send_all([Outgoing(predictions, b"k", b"v")]), 5)
    assert predictions.records == [(b"k", b"v")] and predictions.attempts == 7


@pytest.mark.parametrize(
    ("error", "retriable"),
    [
        (KafkaConnectionError("down"), True),
        (NotLeaderForPartitionError(), True),
        (TimeoutError(), True),
        (OSError("reset"), True),
        (MessageSizeTooLargeError(), False),
        (ValueError("bug"), False),
    ],
)
def test_retry_policy(error: BaseException, retriable: bool) -> None:
    assert is_retriable(error) is retriable


async def test_outputs_carry_a_child_of_their_inputs_trace_context() -> None:
    import dataclasses

    from streams.flow.trace_context import TraceParent, parse_traceparent

    made, predictions, letters, _ = publisher()
    parent = TraceParent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01", "k=v")
    traced = published(1)
    traced = Published(dataclasses.replace(traced.raw, trace=parent), traced.prediction)
    letter = dead_letter(dataclasses.replace(raw(b"{nope"), trace=parent), "schema", "x", Metrics())
    untraced = dead_letter(raw(b"{nope"), "schema", "x", Metrics())

    await made.publish([traced, published(2)], [letter, untraced], "livescore", None)

    prediction_headers, no_headers = predictions.headers
    assert no_headers is None and letters.headers[1] is None  # no context in, none out
    for headers in (prediction_headers, letters.headers[0]):
        assert headers is not None and dict(headers)["tracestate"] == b"k=v"
        child = parse_traceparent(dict(headers)["traceparent"])
        assert child is not None and child.trace_id == parent.trace_id
        assert child.span_id != parent.span_id and child.flags == "01"
    assert "_trace" not in letter.model_dump_json()  # the context is no field of the record


async def test_exported_tracing_makes_one_span_per_output_parented_or_new() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from streams.flow.trace_context import TraceParent, parse_traceparent
    from streams.ops.traces import ExportedTracing

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    made, predictions, _, _ = publisher()
    made.tracing = ExportedTracing(provider, "group")
    parent = TraceParent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01")
    import dataclasses

    traced = published(1)
    traced = Published(dataclasses.replace(traced.raw, trace=parent), traced.prediction)

    await made.publish([traced, published(2)], [], "livescore", 0.0)

    spans = exporter.get_finished_spans()
    assert len(spans) == 2
    headers = [dict(h or []) for h in predictions.headers]
    children = [parse_traceparent(h["traceparent"]) for h in headers]
    assert children[0] is not None and children[1] is not None
    assert children[0].trace_id == parent.trace_id  # the input's trace, continued
    assert children[1].trace_id != parent.trace_id  # no context in: a new trace
    by_id = {f"{s.context.span_id:016x}": s for s in spans}
    first = by_id[children[0].span_id]
    assert first.parent is not None and f"{first.parent.span_id:016x}" == parent.span_id
    assert by_id[children[1].span_id].parent is None
    assert (
        first.attributes is not None and first.attributes["soccerpredict.outcome"] == "prediction"
    )

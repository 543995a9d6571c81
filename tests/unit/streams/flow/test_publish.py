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

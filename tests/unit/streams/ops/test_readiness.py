"""/ready has no side effects: concurrent probes leave logging as it was."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

from devstack.supervisor import free_port
from streams.connect.kafka import kafka_options
from streams.faust_glue.kafka_admin import KafkaAdmin
from streams.metrics import Metrics
from streams.ops.readiness import not_ready_reasons
from streams.settings import Settings


def worker_without_kafka() -> Any:
    async def ping() -> None:
        return None

    settings = Settings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")
    return SimpleNamespace(
        settings=settings,
        kafka=KafkaAdmin(kafka_options(settings)),
        latest=SimpleNamespace(ping=ping, pending={}),
        models=SimpleNamespace(current=object(), alias="champion", last_error=None),
        features=SimpleNamespace(current=object(), last_error=None),
        stalls=SimpleNamespace(stalled=[]),
        results=None,
        app=SimpleNamespace(in_recovery=False),
        metrics=Metrics(),
    )


def logging_state() -> dict[str, Any]:
    names = ["", "aiokafka", "aiokafka.conn", "kafka", "faust"]
    return {
        name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers))
        for name in names
    }


async def test_concurrent_probes_leave_logging_unchanged_and_say_why() -> None:
    worker = worker_without_kafka()
    before = logging_state()
    answers = await asyncio.gather(*(not_ready_reasons(worker) for _ in range(8)))
    assert logging_state() == before
    for reasons in answers:
        assert len(reasons) == 1 and reasons[0].startswith("kafka: no metadata answer")
    await worker.kafka.stop()


async def test_a_worker_still_reading_results_or_recovering_tables_is_not_ready() -> None:
    worker = worker_without_kafka()
    worker.results = SimpleNamespace(caught_up=asyncio.Event(), behind=12)
    worker.app.in_recovery = True
    reasons = await not_ready_reasons(worker)
    assert reasons[1:] == [
        "results: reading the results topic (12 behind) before answering",
        "tables: recovering the match state from the changelogs",
    ]
    worker.results.caught_up.set()
    worker.app.in_recovery = False
    assert len(await not_ready_reasons(worker)) == 1  # only Kafka, down in this test
    await worker.kafka.stop()

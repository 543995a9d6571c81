"""Scale-out: two workers in one consumer group share 4 partitions; one dies, none is lost.

Both workers must answer part of the load (each one's own /metrics counts the
predictions it produced); after one is SIGKILLed, the group evicts it once the session
times out and the survivor takes its partitions and answers everything after that.
It once lost the head of each partition taken over in about 1 run of 5 (see
``streams.faust_glue.patches.stop_flow_before_seek``), and more rarely never read a
taken-over partition again, every request from some offset to the end unanswered (see
``streams.faust_glue.patches.uncommitted_seek_to_beginning``). A failure names, per input
partition, how many requests went unanswered, from which offset, and whether the
partition never resumed: that is what located both bugs.
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from devstack.supervisor import free_port
from devstack.worker import WorkerProcess, http_get
from streams.settings import Settings
from tests.harness import answers_to, produce
from tests.integration.conftest import TrainedRegistry
from tests.integration.test_pipeline_e2e import request

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
# Enough for a backlog on the dead member's partitions when the survivor takes them over.
AFTER_KILL = 3000
# The broker's group.min.session.timeout.ms is 6 s: the fastest a dead member can go.
SESSION_TIMEOUT_SECONDS = 6.0


def answered_by(worker: WorkerProcess) -> float:
    """Request predictions this worker produced, from its own /metrics."""
    status, body = http_get(f"{worker.base_url}/metrics")
    assert status == 200
    found = re.search(rb'^soccer_predictions_total\{trigger="request"\} (\S+)$', body, re.M)
    return float(found.group(1)) if found else 0.0


@dataclass(frozen=True)
class Unanswered:
    """The unanswered requests of one input partition."""

    count: int
    first_offset: int
    stalled: bool  # everything from the first unanswered request on is unanswered

    def __str__(self) -> str:
        return f"{self.count} from offset {self.first_offset}" + (
            " to the end (never resumed)" if self.stalled else ""
        )


async def unanswered_by_partition(settings: Settings, missing: set[str]) -> dict[int, Unanswered]:
    """Where the unanswered requests sit in the input topic, per partition."""
    found: dict[int, list[int]] = collections.defaultdict(list)
    last: dict[int, int] = {}
    consumer = AIOKafkaConsumer(
        settings.match_requests_topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while batch := await consumer.getmany(timeout_ms=2000):
            for tp, messages in batch.items():
                for m in messages:
                    last[tp.partition] = m.offset
                    if json.loads(m.value)["request_id"] in missing:
                        found[tp.partition].append(m.offset)
    finally:
        await consumer.stop()
    return {
        p: Unanswered(len(o), min(o), len(o) == last[p] - min(o) + 1)
        for p, o in sorted(found.items())
    }


async def test_two_workers_share_partitions_and_one_takes_over_when_the_other_dies(
    worker_settings: Settings, trained_registry: TrainedRegistry, tmp_path: Path
) -> None:
    def member(name: str) -> WorkerProcess:
        settings = Settings(
            **{
                **worker_settings.model_dump(),
                "web_port": free_port(),
                "state_dir": tmp_path / name,
                "kafka_session_timeout_seconds": SESSION_TIMEOUT_SECONDS,
            }
        )
        return WorkerProcess(settings, tmp_path / f"{name}.log").launch()

    matches = trained_registry.match_ids()[-200:]  # many keys: every partition gets some
    a, b = member("a"), member("b")
    try:
        a.wait_ready()
        b.wait_ready()
        # Keep requests coming until the group settled and both members answer.
        sent = 0
        deadline = time.monotonic() + 90
        while min(answered_by(a), answered_by(b)) == 0 and time.monotonic() < deadline:
            wave = [request(matches[(sent + i) % 200], f"p{sent + i}") for i in range(200)]
            sent += await produce(worker_settings, worker_settings.match_requests_topic, wave)
            await asyncio.sleep(1.0)
        shares = answered_by(a), answered_by(b)
        assert min(shares) > 0, f"both workers answer part of the load, got {shares}"

        b.kill()
        before_kill = answered_by(a)
        after = [request(matches[i % 200], f"q{i}") for i in range(AFTER_KILL)]
        await produce(worker_settings, worker_settings.match_requests_topic, after)
        expected = {f"p{i}" for i in range(sent)} | {f"q{i}" for i in range(AFTER_KILL)}
        answered = await answers_to(worker_settings, expected, timeout=90)
        missing = expected - answered.keys()
        if missing:
            where = await unanswered_by_partition(worker_settings, missing)
            text = ", ".join(f"partition {p}: {u}" for p, u in where.items())
            pytest.fail(f"{len(missing)} requests unanswered after 90 s: {text}")
        assert answered_by(a) - before_kill >= AFTER_KILL, (
            "the survivor answered all that came after"
        )
        duplicates = sum(n - 1 for n in answered.values())
        print(f"\nscale-out: shares before the kill {shares}, {duplicates} duplicate answers")
    finally:
        a.stop()
        b.stop()

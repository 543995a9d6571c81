"""Malformed inputs, fuzzed with hypothesis against a running worker: all dead-lettered.

Bad JSON, wrong types, empty payloads, bad UTF-8 and payloads over 1 MiB go to both input
topics; every one must land in the DLQ with a decode reason, and the worker must stay up
and keep answering good input.

Records over the broker's default ``message.max.bytes`` (~1 MiB) are refused at produce
time, so they can only reach a worker from a topic configured for them: the test raises
``max.message.bytes`` on its own input topics to 3 MiB, as an operator would, to prove
the worker copes (the dead letter keeps the first 256 KiB and names the source offset).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from devstack.worker import WorkerProcess, http_get
from streams.settings import Settings
from tests.harness import collect, produce
from tests.integration.conftest import TrainedRegistry
from tests.integration.test_pipeline_e2e import request

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
MiB = 1 << 20
DECODE_REASONS = {"invalid_json", "schema"}
LIVESCORE = {
    "match_id": "m-1",
    "seq": 1,
    "ts": "2024-06-14T19:00:00+00:00",
    "status": "live",
    "minute": 10,
    "home_goals": 0,
    "away_goals": 0,
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
# One field of a valid event broken for sure (strict types: no "1" for 1).
broken_fields = st.sampled_from(
    [
        ("seq", -1), ("seq", "1"), ("seq", 1.5), ("minute", 131), ("status", "paused"),
        ("match_id", ""), ("match_id", "x" * 129), ("match_id", 7), ("home_goals", -1),
        ("ts", "yesterday"), ("ts", 1718391600), ("away_goals", None),
    ]
)  # fmt: skip
bad_json = st.text(max_size=60).map(lambda s: ("{" + s + ",,").encode())
wrong_types = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    broken_fields.map(lambda kv: json.dumps(LIVESCORE | {kv[0]: kv[1]}).encode()),
)
empty = st.just(b"")
bad_utf8 = st.tuples(
    st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80", b"\xf8\x88\x80\x80\x80"]),
    st.binary(max_size=20),
).map(lambda t: b'{"match_id": "' + t[0] + t[1] + b'", "seq": 1}')
huge = st.integers(MiB + 1, MiB + 256 * 1024).map(lambda n: b'{"match_id": "' + b"m" * n + b'"}')
malformed = st.one_of(bad_json, wrong_types, empty, bad_utf8, huge)


async def _raise_max_message_bytes(worker_settings: Settings, topics: Iterable[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=worker_settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.alter_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, t, {"max.message.bytes": str(3 * MiB)})
                for t in topics
            ]
        )
    finally:
        await admin.close()


async def _send(settings_: Settings, records: list[tuple[str, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings_.kafka_bootstrap_servers, acks="all", max_request_size=3 * MiB
    )
    await producer.start()
    try:
        for topic, key, value in records:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def test_malformed_inputs_all_land_in_the_dlq_and_the_worker_stays_up(
    worker: WorkerProcess, worker_settings: Settings, trained_registry: TrainedRegistry
) -> None:
    inputs = [worker_settings.livescores_topic, worker_settings.match_requests_topic]
    asyncio.run(_raise_max_message_bytes(worker_settings, inputs))
    letters_by_key: dict[str, dict] = {}
    sent: list[str] = []
    huge_sent = [0]

    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(st.tuples(st.sampled_from(inputs), malformed), min_size=1, max_size=6))
    @example(  # one of each kind, whatever the random draws are
        [
            (inputs[0], b""),
            (inputs[1], b'{"request_id": "r", "match_id": "\xff\xfe"}'),
            (inputs[0], b'{"match_id": "' + b"m" * (MiB + 10) + b'"}'),
            (inputs[1], b"{not json"),
            (inputs[0], json.dumps(LIVESCORE | {"seq": "1"}).encode()),
            (inputs[1], b"[1, 2, 3]"),
        ]
    )
    def one_round(payloads: list[tuple[str, bytes]]) -> None:
        keys = [f"fuzz-{uuid.uuid4().hex[:8]}" for _ in payloads]
        records = [(t, k.encode(), v) for (t, v), k in zip(payloads, keys, strict=True)]
        asyncio.run(_send(worker_settings, records))
        sent.extend(keys)
        huge_sent[0] += sum(len(v) > MiB for _, v in payloads)
        letters = asyncio.run(
            collect(
                worker_settings,
                worker_settings.predictions_dlq_topic,
                lambda rs: {r["key"] for r in rs} >= set(keys),
                timeout=30,
            )
        )
        letters_by_key.update({r["key"]: r for r in letters})
        for key, (topic, value) in zip(keys, payloads, strict=True):
            letter = letters_by_key.get(key)
            assert letter is not None, f"{len(value)}-byte payload on {topic} not dead-lettered"
            assert letter["error"]["type"] in DECODE_REASONS, letter["error"]
            assert letter["source_topic"] == topic
        assert worker.pid() is not None, worker.tail()

    one_round()

    print(f"\nfuzz: {len(sent)} malformed inputs ({huge_sent[0]} over 1 MiB), all dead-lettered")
    assert huge_sent[0] >= 1
    assert http_get(f"{worker.base_url}/health")[0] == 200
    match_id = trained_registry.match_ids()[-1]
    asyncio.run(
        produce(worker_settings, worker_settings.match_requests_topic, [request(match_id, "ok")])
    )
    answers = asyncio.run(
        collect(
            worker_settings,
            worker_settings.predictions_topic,
            lambda rs: any(r["request_id"] == "ok" for r in rs),
            timeout=30,
        )
    )
    assert any(r["request_id"] == "ok" for r in answers), "good input is still answered"
    predictions_out = asyncio.run(
        collect(worker_settings, worker_settings.predictions_topic, lambda rs: False, timeout=2)
    )
    assert len(predictions_out) == 1, "no malformed input turned into a prediction"

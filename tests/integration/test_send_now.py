"""send_now ends the producer's linger: a lone record is sent at once, not a linger later."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaProducer

from streams.faust_glue.send_now import send_now
from streams.faust_glue.topic_admin import ensure_topics
from streams.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
LINGER_MS = 3000


async def test_a_lingering_record_is_sent_at_once(isolated_settings: Settings) -> None:
    await ensure_topics(isolated_settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=isolated_settings.kafka_bootstrap_servers, linger_ms=LINGER_MS
    )
    await producer.start()
    try:
        # Warm: metadata and the connection, so the timing below is the linger alone.
        await (await producer.send(isolated_settings.predictions_topic, b"warm", partition=0))
        app = SimpleNamespace(producer=SimpleNamespace(_producer=producer))

        started = time.monotonic()
        lingering = await producer.send(isolated_settings.predictions_topic, b"x", partition=0)
        await asyncio.sleep(0.2)
        assert not lingering.done(), "with a linger the record waits for company"
        send_now(app)  # type: ignore[arg-type]  # the one attribute it reads
        await asyncio.wait_for(lingering, 2.0)
        assert time.monotonic() - started < LINGER_MS / 1000 / 2
    finally:
        await producer.stop()

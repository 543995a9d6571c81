"""The readiness probe's Kafka question reuses one connection, against the real broker."""

from __future__ import annotations

import asyncio
import logging

import pytest

from streams.faust_glue.kafka_admin import KafkaAdmin
from tests.conftest import RunningStack

pytestmark = pytest.mark.integration  # the real broker of the session's stack


async def test_probes_share_one_client_and_touch_no_logger(stack: RunningStack) -> None:
    admin = KafkaAdmin({"bootstrap_servers": stack.bootstrap})
    level = logging.getLogger("aiokafka").level
    try:
        assert await admin.unreachable(5.0) is None
        client = await admin.client()
        answers = await asyncio.gather(*(admin.unreachable(5.0) for _ in range(8)))
        assert answers == [None] * 8
        assert await admin.client() is client, "a probe must not open a client of its own"
        assert logging.getLogger("aiokafka").level == level
    finally:
        await admin.stop()

"""The latest-value sink's compare-and-set against a real Redis: newest by rank, one script
call per chunk of keys. (Parking while Redis is down: tests/integration/test_faults.py.)"""

from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as aioredis

from streams.metrics import Metrics
from streams.settings import Settings
from streams.sinks import redis_latest
from streams.sinks.redis_latest import LatestValue, RedisLatestSink

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def value(key: str, rank: int, tag: str) -> LatestValue:
    return LatestValue(key, rank, json.dumps({"seq": None if rank < 0 else rank, "tag": tag}))


async def test_newer_or_equal_ranks_win_and_older_ones_are_refused(
    isolated_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_latest, "KEYS_PER_CALL", 3)  # several calls in one round trip
    sink = RedisLatestSink(isolated_settings.redis_url.get_secret_value(), 60, Metrics())
    client = aioredis.Redis.from_url(isolated_settings.redis_url.get_secret_value())
    key = isolated_settings.redis_key
    try:
        first = [value(key(f"m{i}"), 5, "first") for i in range(7)]
        assert await sink.write(first) == 7
        again = [
            value(key("m0"), 4, "older"),  # refused: a late event
            value(key("m1"), 5, "equal"),  # written: the same state answered again
            value(key("m2"), 6, "newer"),  # written
            value(key("m3"), -1, "pre-match"),  # refused: the match is under way
        ]
        assert await sink.write(again) == 2
        tags = {i: json.loads(await client.get(key(f"m{i}")))["tag"] for i in range(4)}
        assert tags == {0: "first", 1: "equal", 2: "newer", 3: "first"}
        assert 0 < await client.ttl(key("m2")) <= 60
    finally:
        await sink.on_stop()
        await client.aclose()


async def test_batches_written_while_a_write_is_under_way_share_the_next_round_trip(
    isolated_settings: Settings,
) -> None:
    sink = RedisLatestSink(isolated_settings.redis_url.get_secret_value(), 60, Metrics())
    client = aioredis.Redis.from_url(isolated_settings.redis_url.get_secret_value())
    key = isolated_settings.redis_key
    calls = []
    real = sink._write_now
    under_way = asyncio.Event()

    async def counted(batch: dict[str, LatestValue]) -> int:
        calls.append(sorted(batch))
        under_way.set()
        return await real(batch)

    sink._write_now = counted  # type: ignore[method-assign]  # count the round trips
    try:
        first = asyncio.create_task(sink.write([value(key("m0"), 1, "batch 0")]))
        await under_way.wait()  # the first write is on its way to Redis
        written = await asyncio.gather(
            *(sink.write([value(key(f"m{i}"), 1, f"batch {i}")]) for i in range(1, 5))
        )
        assert await first == 1 and written == [4, 4, 4, 4]
        assert calls == [[key("m0")], [key(f"m{i}") for i in range(1, 5)]], (
            "the four batches that came during the first write share one round trip"
        )
        assert json.loads(await client.get(key("m4")))["tag"] == "batch 4"
    finally:
        await sink.on_stop()
        await client.aclose()


async def test_a_batch_is_one_script_call_and_survives_a_flushed_script_cache(
    isolated_settings: Settings,
) -> None:
    """One chunk is one EVALSHA (a pipeline would ask SCRIPT EXISTS first, every time);
    a Redis that lost its scripts (a restart, a failover) is answered by loading it again."""
    sink = RedisLatestSink(isolated_settings.redis_url.get_secret_value(), 60, Metrics())
    client = aioredis.Redis.from_url(isolated_settings.redis_url.get_secret_value())
    key = isolated_settings.redis_key

    async def calls(command: str) -> int:
        stats = await client.info("commandstats")
        return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))

    try:
        assert await sink.write([value(key("m0"), 1, "first")]) == 1  # the script is loaded
        exists, evalsha = await calls("script|exists"), await calls("evalsha")
        assert await sink.write([value(key(f"m{i}"), 2, "second") for i in range(3)]) == 3
        assert await calls("evalsha") == evalsha + 1, "one script call for the batch"
        assert await calls("script|exists") == exists, "no SCRIPT EXISTS round trip"

        await client.script_flush()
        assert await sink.write([value(key("m0"), 3, "after flush")]) == 1
        assert json.loads(await client.get(key("m0")))["tag"] == "after flush"
    finally:
        await sink.on_stop()
        await client.aclose()

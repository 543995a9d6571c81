"""``prediction:{match_id}`` in Redis: newest by ``seq``, one round trip per batch.

A Lua compare-and-set keeps a late, older event from overwriting a newer one, atomically on
the server. Redis is a cache of the ``predictions`` topic, so an outage never stops the
flow: writes that fail are parked per match (newest only) and the sink's poller writes them
when Redis answers again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import redis.asyncio as aioredis
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from streams.metrics import Metrics
from streams.newest import keep_newest
from streams.polling import PollingService, RoundFailed

log = structlog.get_logger(__name__)

# One call per batch: KEYS are the batch's keys, ARGV the TTL, then a rank and a JSON per
# key. rank = seq, or -1 for a pre-match request answer (no seq). Equal ranks overwrite: a
# request answer for the current state supersedes the livescore answer for that state.
# Returns how many keys were written.
COMPARE_AND_SET = """
local ttl = ARGV[1]
local written = 0
for i, key in ipairs(KEYS) do
  local rank = tonumber(ARGV[2 * i])
  local newer = true
  local current = redis.call('GET', key)
  if current then
    local ok, stored = pcall(cjson.decode, current)
    if ok and type(stored) == 'table' and type(stored['seq']) == 'number' then
      newer = rank >= stored['seq']
    elseif ok and type(stored) == 'table' then
      newer = rank >= -1
    end
  end
  if newer then
    redis.call('SET', key, ARGV[2 * i + 1], 'EX', ttl)
    written = written + 1
  end
end
return written
"""
#: Keys per script call.
KEYS_PER_CALL = 1024
#: Most matches parked in memory while Redis is down; newer matches beyond it are dropped
#: from Redis (never from the topic) and counted.
MAX_PENDING = 100_000
FLUSH_SECONDS = 1.0


@dataclass(frozen=True)
class LatestValue:
    """One prediction to store: its key, ordering rank and JSON."""

    key: str
    rank: int
    json: str


def _key(value: LatestValue) -> str:
    return value.key


def _rank(value: LatestValue) -> int:
    return value.rank


class RedisLatestSink(PollingService):
    """Writes latest predictions to Redis, parks them while it is down, reads them back."""

    def __init__(self, url: str, ttl_seconds: int, metrics: Metrics, **tls: str) -> None:
        super().__init__(FLUSH_SECONDS, retry_maximum=5.0)
        # Short timeouts and a single retry: a slow Redis must not hold a batch for long,
        # and a retry must never outlive the timeout it retries.
        self.client = aioredis.Redis.from_url(
            url,
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
            retry=Retry(NoBackoff(), 1),
            health_check_interval=10,
            **tls,  # streams.connect.redis.redis_options: CA and client certificate
        )
        self.ttl_seconds = ttl_seconds
        self.metrics = metrics
        self._cas = self.client.register_script(COMPARE_AND_SET)
        self.pending: dict[str, LatestValue] = {}
        self.last_error: str | None = None
        #: Values waiting for the write under way to finish, and what they will learn.
        self._queued: dict[str, LatestValue] = {}
        self._queued_done: asyncio.Future[int] | None = None
        self._writer: asyncio.Task[None] | None = None

    async def write(self, values: Iterable[LatestValue]) -> int:
        """Store a batch; returns how many keys the round trip that carried it wrote.

        Batches that arrive while a write is under way (batches in flight complete close
        together) are queued and written together in the next round trip: Redis sees one
        call per round trip, not one per batch. While earlier writes are parked, new ones
        join them instead of hitting a Redis that just failed: the poller writes everything
        in one go when it is back.
        """
        batch: dict[str, LatestValue] = {}
        keep_newest(batch, values, _key, _rank)
        if not batch:
            return 0
        if self.pending:
            self._park(batch.values())
            return 0
        keep_newest(self._queued, batch.values(), _key, _rank)
        if self._queued_done is None:
            self._queued_done = asyncio.get_running_loop().create_future()
        done = self._queued_done
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        # Shielded: a cancelled caller must not cancel the write other batches wait on.
        return await asyncio.shield(done)

    async def _write_queued(self) -> None:
        while self._queued:
            batch, self._queued = self._queued, {}
            done, self._queued_done = self._queued_done, None
            assert done is not None  # set with the first queued value
            try:
                done.set_result(await self._write_now(batch))
            except (RedisError, OSError) as exc:
                self._fail("write", exc)
                self._park(batch.values())
                done.set_result(0)
            except BaseException as exc:
                done.set_exception(exc)
                raise

    async def _write_now(self, batch: dict[str, LatestValue]) -> int:
        values = list(batch.values())
        # One script call per chunk: a catch-up after an outage must not become one call
        # that blocks Redis for every other client.
        calls = []
        for start in range(0, len(values), KEYS_PER_CALL):
            chunk = values[start : start + KEYS_PER_CALL]
            args: list[object] = [self.ttl_seconds]
            for value in chunk:
                args += (value.rank, value.json)
            calls.append(([value.key for value in chunk], args))
        if len(calls) == 1:
            # A batch is one chunk: called on the client, the script is one EVALSHA round
            # trip. A pipeline would first ask SCRIPT EXISTS on every execute, a second
            # round trip on every batch.
            keys, args = calls[0]
            results = [await self._cas(keys=keys, args=args)]
        else:
            async with self.client.pipeline(transaction=False) as pipe:
                for keys, args in calls:
                    await self._cas(keys=keys, args=args, client=pipe)
                results = await pipe.execute()
        self.last_error = None
        return sum(int(r) for r in results)

    def _park(self, values: Iterable[LatestValue]) -> None:
        dropped = keep_newest(self.pending, values, _key, _rank, limit=MAX_PENDING)
        if dropped:
            self.metrics.redis_errors.labels(op="pending_overflow").inc(dropped)
        self.metrics.redis_pending.set(len(self.pending))

    def _fail(self, op: str, exc: BaseException) -> None:
        self.metrics.redis_errors.labels(op=op).inc()
        if self.last_error is None:
            log.warning("redis_unavailable", op=op, error=str(exc))
        self.last_error = f"{type(exc).__name__}: {exc}"

    async def poll(self) -> None:
        """Write parked values; they stay parked (and the poller backs off) if Redis fails."""
        if not self.pending:
            return
        batch = dict(self.pending)
        try:
            written = await self._write_now(batch)
        except (RedisError, OSError) as exc:
            self._fail("flush", exc)
            raise RoundFailed(self.last_error) from exc
        for key, value in batch.items():
            # Only drop what was written; newer values parked meanwhile stay.
            if self.pending.get(key) is value:
                del self.pending[key]
        self.metrics.redis_pending.set(len(self.pending))
        log.info("redis_caught_up", keys=len(batch), written=written)

    async def read(self, key: str) -> bytes | None:
        try:
            return await self.client.get(key)
        except (RedisError, OSError) as exc:
            self._fail("read", exc)
            raise

    async def ping(self) -> str | None:
        """None when Redis answers, else the reason it does not."""
        try:
            await asyncio.wait_for(self.client.ping(), 2.0)
        except (RedisError, OSError, TimeoutError) as exc:
            return f"redis: {type(exc).__name__}: {exc}"
        return None

    async def on_stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
        await self.client.aclose()

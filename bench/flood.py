"""A flood of match ids (issue 25): one worker answers every request and stays bounded.

    .venv/bin/python -m bench.flood [--matches 200000] [--rate 1500] [--limit N] [--bound-mb MB]

Starts a private Kafka and Redis on free ports (state in a temporary folder, the broker
jars linked from the local stack's cache) and one worker with a synthetic champion, then
sends ``--matches`` requests, each for a match id never seen before, at ``--rate`` a second
(teams from a fixed list of national sides: nothing needs the data). Meanwhile it samples
the worker's resident memory (``VmRSS`` of ``/proc/<pid>/status``) and the live memories
per table (``soccer_match_memories`` on ``/metrics``). It checks that every request is
answered (a prediction carries its ``request_id``) and that the tables come down to
``MATCH_MEMORY_LIMIT``, prints the peak resident memory next to the bound, lets the
changelogs compact (twice ``--compact-seconds``, the worker's CHANGELOG_COMPACT_SECONDS,
with a request every 2 s to roll their segments), then stops the worker, starts it again
and measures how long it takes to be ready and to answer a new request (its tables
recovered from their changelogs).

The bound is ``BASE_MB`` plus ``PER_MATCH_KB`` for each match the limit lets a worker
remember (docs/benchmarks.md); ``--bound-mb`` states another. Exits 1 when a request went
unanswered, a table stayed above the limit or the peak passed the bound; 2 on bad
arguments. Progress goes to stderr, the summary to stdout. Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.pipeline_latency import train
from devstack.kafka_broker import KafkaBroker
from devstack.local_stack import private_broker
from devstack.redis_server import RedisServer
from devstack.supervisor import free_port
from devstack.topics import run_names
from devstack.worker import WorkerProcess, http_fetch
from streams.cli.args import positive_float, positive_int
from streams.cli.main import OneLineParser
from streams.connect.kafka import kafka_options
from streams.faust_glue.topic_admin import ensure_topics
from streams.settings import Settings
from streams.table_names import MATCH_STATE_TABLE, OUTPUTS_TABLE

#: The resident memory a worker may reach: this much for the worker itself (Python, Faust,
#: the model and the feature tables)...
BASE_MB: Final = 500.0
#: ...and this much per match remembered in every table (measured: docs/benchmarks.md).
PER_MATCH_KB: Final = 5.0
#: Real sides from the synthetic data's list: every request names two of them.
SIDES: Final = (
    "Germany", "France", "Spain", "England", "Italy", "Netherlands", "Portugal", "Belgium",
    "Brazil", "Argentina", "Uruguay", "Colombia", "Morocco", "Senegal", "Japan", "Mexico",
)  # fmt: skip
TABLES: Final = (MATCH_STATE_TABLE, OUTPUTS_TABLE)
MEMORIES: Final = re.compile(rb'^soccer_match_memories\{table="([^"]+)"\} (\S+)$', re.M)
SAMPLE_SECONDS: Final = 1.0


#: The broker's log cleaner looks for work every 15 s (log.cleaner.backoff.ms): room for it
#: on top of the compaction window.
COMPACTION_SLACK_SECONDS = 30.0
#: A request this often while the changelogs compact: a segment rolls only on a write.
ROLL_SECONDS = 2.0


def say(message: str) -> None:
    print(f"[flood] {message}", file=sys.stderr, flush=True)


def bound_mb(limit: int) -> float:
    """The stated bound on a worker's resident memory for ``limit``."""
    return BASE_MB + limit * PER_MATCH_KB / 1024


def request_of(run: str, n: int) -> tuple[bytes, bytes]:
    """The ``n``-th request: a match id of its own, two sides of the list."""
    match_id = f"{run}-m{n}"
    home = SIDES[n % len(SIDES)]
    away = SIDES[(n + 1 + n // len(SIDES)) % len(SIDES)]
    if away == home:
        away = SIDES[(n + 1) % len(SIDES)]
    body = {
        "request_id": f"{run}-r{n}",
        "match_id": match_id,
        "home_team": home,
        "away_team": away,
        "date": "2025-06-14",
        "tournament": "Friendly",
    }
    return match_id.encode(), json.dumps(body).encode()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def memories(worker: WorkerProcess) -> dict[str, float]:
    """``soccer_match_memories`` per table, from the worker's /metrics."""
    status, body = await http_fetch(f"{worker.base_url}/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    return {m[1].decode(): float(m[2]) for m in MEMORIES.finditer(body)}


@dataclass
class Samples:
    """What the sampler saw: peak resident memory, and the memories it last read."""

    peak_mb: float = 0.0
    last_mb: float = 0.0
    memories: dict[str, float] = field(default_factory=dict)
    peak_memories: dict[str, float] = field(default_factory=dict)

    async def run(self, worker: WorkerProcess, stop: asyncio.Event) -> None:
        pid = worker.pid()
        assert pid is not None
        while not stop.is_set():
            self.last_mb = rss_mb(pid)
            self.peak_mb = max(self.peak_mb, self.last_mb)
            with contextlib.suppress(OSError):  # busy for a moment: the next sample reads it
                self.memories = await memories(worker)
            for table, held in self.memories.items():
                self.peak_memories[table] = max(self.peak_memories.get(table, 0.0), held)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)


class Answers:
    """The request ids answered on the predictions topic, read from the beginning."""

    MARKER: Final = b'"request_id":"'

    def __init__(self, settings: Settings) -> None:
        self.answered: set[bytes] = set()
        self.consumer = AIOKafkaConsumer(
            settings.predictions_topic,
            **kafka_options(settings),
            auto_offset_reset="earliest",
            group_id=None,
            enable_auto_commit=False,
            max_partition_fetch_bytes=4 << 20,
        )

    def take(self, value: bytes) -> None:
        # The id's bytes, not the whole JSON: the bench shares the cores with the worker.
        at = value.find(self.MARKER)
        if at >= 0:
            start = at + len(self.MARKER)
            self.answered.add(value[start : value.index(b'"', start)])

    async def run(self, stop: asyncio.Event) -> None:
        await self.consumer.start()
        try:
            while not stop.is_set():
                batch = await self.consumer.getmany(timeout_ms=300, max_records=10000)
                for messages in batch.values():
                    for message in messages:
                        self.take(message.value or b"")
        finally:
            await self.consumer.stop()


async def send_at_rate(
    producer: AIOKafkaProducer, topic: str, run: str, first: int, count: int, rate: float
) -> None:
    """Requests ``first .. first+count-1``, ``rate`` a second, saying how far it got."""
    started = time.monotonic()
    sent = 0
    next_report = started + 10
    while sent < count:
        due = min(count, int((time.monotonic() - started) * rate) + 1)
        while sent < due:
            key, value = request_of(run, first + sent)
            await producer.send(topic, value, key=key)
            sent += 1
        if time.monotonic() >= next_report:
            next_report += 10
            say(f"sent {sent:,} of {count:,}")
        await asyncio.sleep(0.01)
    await producer.flush()


def private_stack(root: Path) -> tuple[KafkaBroker, RedisServer, str]:
    """A broker and a redis-server of this run's own on free ports (the jars linked from
    the local stack's cache when it has them)."""
    broker = private_broker(root / "kafka-home", "512m")
    redis_port = free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    redis = RedisServer(root / "redis-home", "127.0.0.1", redis_port, redis_url)
    return broker, redis, redis_url


async def wait_for(what: str, check: object, timeout: float) -> float:
    """Seconds until the coroutine function ``check`` returns true; RuntimeError after
    ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if await check():  # type: ignore[operator]  # a coroutine function
                return time.monotonic() - started
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{what}: not within {timeout:g} s")


async def flood(args: argparse.Namespace, root: Path, settings: Settings) -> int:
    run = settings.consumer_group
    limit = settings.match_memory_limit
    bound = args.bound_mb if args.bound_mb is not None else bound_mb(limit)
    await ensure_topics(settings)
    worker = WorkerProcess(settings, root / "worker.log").launch()
    producer = AIOKafkaProducer(**kafka_options(settings), linger_ms=5, acks=1)
    stop_reading, stop_sampling = asyncio.Event(), asyncio.Event()
    answers = Answers(settings)
    samples = Samples()
    failures: list[str] = []
    reading = asyncio.create_task(answers.run(stop_reading))
    try:
        await asyncio.to_thread(worker.wait_ready, 180)
        say(f"worker ready (pid {worker.pid()}, {rss_mb(worker.pid() or 0):.0f} MB resident)")
        await producer.start()
        sampling = asyncio.create_task(samples.run(worker, stop_sampling))
        progress = asyncio.create_task(report(answers, samples, args.matches))
        began = time.monotonic()
        await send_at_rate(producer, settings.match_requests_topic, run, 0, args.matches, args.rate)
        sent_in = time.monotonic() - began
        say(f"sent {args.matches:,} requests in {sent_in:.0f} s; waiting for the answers")

        async def all_answered() -> bool:
            return len(answers.answered) >= args.matches

        try:
            await wait_for("every request answered", all_answered, args.answer_timeout)
        except RuntimeError as exc:
            failures.append(f"{exc} ({len(answers.answered):,} of {args.matches:,})")
        answered_in = time.monotonic() - began

        # The read models apply the answers once the champion is idle: then the last of
        # them is in, and the next second's check holds each table to the limit.
        await asyncio.to_thread(worker.wait_read_models, 120)

        async def within_limit() -> bool:
            held = await memories(worker)
            return all(held.get(table, 0) <= limit for table in TABLES)

        try:
            await wait_for("memories within the limit", within_limit, 120)
        except RuntimeError as exc:
            failures.append(str(exc))
        await asyncio.sleep(2 * SAMPLE_SECONDS)  # one more sample after the last write
        stop_sampling.set()
        progress.cancel()
        await sampling
        held = await memories(worker)
        answered = len(answers.answered)
        if samples.peak_mb > bound:
            failures.append(f"peak resident memory {samples.peak_mb:.0f} MB > bound {bound:.0f}")

        # The changelogs compact once their segments roll (CHANGELOG_COMPACT_SECONDS):
        # a request every few seconds rolls them, as a live service's writes do, and
        # twice the window lets the cleaner drop the forgotten matches' values, then
        # their tombstones. The restart then reads what a worker holds, not the flood.
        settle = 2 * settings.changelog_compact_seconds + COMPACTION_SLACK_SECONDS
        say(f"letting the changelogs compact ({settle:.0f} s)")
        deadline, n = time.monotonic() + settle, args.matches + 1
        while time.monotonic() < deadline:
            key, value = request_of(run, n)
            await producer.send(settings.match_requests_topic, value, key=key)
            n += 1
            await asyncio.sleep(ROLL_SECONDS)
        await producer.flush()
        answered = len(answers.answered)

        say("restarting the worker")
        worker.stop()
        worker = WorkerProcess(settings, root / "worker-2.log")
        began = time.monotonic()
        worker.launch()
        await asyncio.to_thread(worker.wait_ready, 300)
        ready_in = time.monotonic() - began
        key, value = request_of(run, n)
        await producer.send(settings.match_requests_topic, value, key=key)
        await producer.flush()

        async def new_answered() -> bool:
            return len(answers.answered) > answered

        await wait_for("the request after the restart answered", new_answered, 300)
        answer_in = time.monotonic() - began
        recovered = await memories(worker)  # the tables are recovered once it answers
    finally:
        stop_sampling.set()
        stop_reading.set()
        await producer.stop()
        worker.stop()
        await reading
    print(f"flood of match ids: {args.matches:,} requests at {args.rate:g}/s, limit {limit:,}")
    print(f"  sent in {sent_in:.0f} s; all answered in {answered_in:.0f} s")
    print(f"  answered: {answered:,} of {args.matches:,}")
    print(
        f"  peak resident memory: {samples.peak_mb:.0f} MB (bound {bound:.0f} MB); "
        f"after: {samples.last_mb:.0f} MB"
    )
    for table in TABLES:
        print(
            f"  {table}: peak {samples.peak_memories.get(table, 0):,.0f} memories, "
            f"after {held.get(table, 0):,.0f}, recovered {recovered.get(table, 0):,.0f}"
        )
    print(f"  restart: ready in {ready_in:.1f} s, a new request answered in {answer_in:.1f} s")
    for failure in failures:
        print(f"  FAILED: {failure}")
    return 1 if failures else 0


async def report(answers: Answers, samples: Samples, total: int) -> None:
    while True:
        await asyncio.sleep(10)
        held = ", ".join(f"{t} {samples.memories.get(t, 0):,.0f}" for t in TABLES)
        say(
            f"answered {len(answers.answered):,} of {total:,}; resident {samples.last_mb:.0f} MB "
            f"(peak {samples.peak_mb:.0f}); memories: {held}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The service's log lines (topics created, ...) go to stderr: stdout is the summary.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    with tempfile.TemporaryDirectory(prefix="flood-") as tmp:
        root = Path(tmp)
        broker, redis, redis_url = private_stack(root)
        try:
            say("starting a private Kafka and Redis")
            redis.start()
            broker.start()
            say("training a synthetic champion")
            trained = train(root)
            run = f"flood{uuid.uuid4().hex[:6]}"
            settings = Settings(
                **trained.model_dump()
                | run_names(run)
                | {
                    "kafka_bootstrap_servers": broker.bootstrap,
                    "redis_url": redis_url,
                    "web_port": free_port(),
                    "changelog_compact_seconds": args.compact_seconds,
                    **({"match_memory_limit": args.limit} if args.limit else {}),
                }
            )
            return asyncio.run(flood(args, root, settings))
        finally:
            broker.stop()
            redis.stop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineParser(prog="python -m bench.flood", description=__doc__.splitlines()[0])
    parser.add_argument("--matches", type=positive_int, default=200_000, help="distinct ids")
    parser.add_argument("--rate", type=positive_float, default=1500.0, help="requests a second")
    parser.add_argument(
        "--limit", type=positive_int, default=None, help="MATCH_MEMORY_LIMIT (default: its own)"
    )
    parser.add_argument(
        "--bound-mb", type=positive_float, default=None, help="the resident memory bound"
    )
    parser.add_argument(
        "--compact-seconds",
        type=positive_float,
        default=30.0,
        help="CHANGELOG_COMPACT_SECONDS of the worker (the bench waits twice it before the "
        "restart)",
    )
    parser.add_argument(
        "--answer-timeout", type=positive_float, default=180.0, help="seconds after sending"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())

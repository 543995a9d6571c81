"""One run: the season sent at a steady rate through real workers, faults on schedule.

The input goes day by day, as football does. Before a day is sent, every running worker
has applied every result sent so far (``GET /ratings``): a match is predicted with the
results of earlier days, as in training, however the workers are doing. A day's requests
are answered before its first kick-off: the livescores are sent once every request of the
day has its answer from the champion and from the challenger (requests and livescores
are two topics, and nothing orders one against the other inside a worker: a request
answered after kick-off is an in-play answer). Those two waits are what make the two
runs' predictions comparable; within a day the rate is steady (``rate`` records a second).
A fault falls due when its share of the input has been sent; the slow ones (a worker
start, a broker restart) run beside the sending, which goes on meanwhile. A day whose
results do not reach the workers in :data:`STALL_SECONDS` is a stall, reported with each
worker's view, and ends the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from bench.chaos.cluster import Servers, Workers
from bench.chaos.faults import REDIS_PAUSE_SECONDS, Fault
from bench.chaos.ledger import dead_identity, identity_of
from bench.chaos.registry_prep import move_champion
from bench.chaos.season_input import SeasonInput
from devstack.worker import WorkerProcess, http_fetch
from schemas import DeadLetter, Prediction
from streams.connect.kafka import kafka_options
from streams.settings import Settings

#: A day's results must reach every running worker within this.
STALL_SECONDS = 240.0
#: The last answers and read models must settle within this once everything is sent.
SETTLE_SECONDS = 300.0


class Stalled(Exception):
    """The run stopped making progress; the message says where."""


def say(message: str) -> None:
    print(f"[chaos] {message}", file=sys.stderr, flush=True)


async def _applied(worker: WorkerProcess) -> int | None:
    """Results this worker's features hold, or None while it does not answer."""
    try:
        status, body = await http_fetch(f"{worker.base_url}/ratings", timeout=3)
    except OSError:
        return None
    if status != 200:
        return None
    return int(json.loads(body)["features_version"].rsplit("+", 1)[1])


class Answers:
    """The identities of the inputs answered so far, read as the answers arrive: by the
    champion (or a dead letter) in ``seen``, by a challenger in ``shadowed``."""

    def __init__(self, settings: Settings) -> None:
        self.seen: set[str] = set()
        self.shadowed: set[str] = set()
        self.topics = (
            settings.predictions_topic,
            settings.predictions_dlq_topic,
            settings.predictions_shadow_topic,
        )
        self.consumer = AIOKafkaConsumer(
            *self.topics,
            **kafka_options(settings),
            group_id=None,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=20,
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        self.task = asyncio.ensure_future(self._read())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.consumer.stop()

    async def _read(self) -> None:
        while True:
            try:
                batch = await self.consumer.getmany(timeout_ms=200)
            except KafkaError:  # the broker restarting: the consumer reconnects
                await asyncio.sleep(0.5)
                continue
            for tp, records in batch.items():
                for record in records:
                    if record.value is None:
                        continue
                    if tp.topic == self.topics[0]:
                        self.seen.add(identity_of(Prediction.model_validate_json(record.value)))
                    elif tp.topic == self.topics[2]:
                        prediction = Prediction.model_validate_json(record.value)
                        self.shadowed.add(identity_of(prediction))
                    else:
                        letter = DeadLetter.model_validate_json(record.value)
                        self.seen.add(dead_identity(letter.payload) or "")


class Driver:
    """Sends one run's input and applies its faults."""

    def __init__(
        self,
        settings: Settings,
        season: SeasonInput,
        servers: Servers,
        workers: Workers,
        faults: list[Fault],
        versions: tuple[str, str],
        rate: float,
    ) -> None:
        self.settings = settings
        self.season = season
        self.servers = servers
        self.workers = workers
        self.faults = list(faults)
        self.versions = versions
        self.rate = rate
        self.background: list[asyncio.Future[object]] = []
        self.answers = Answers(settings)

    async def run(self) -> None:
        total = self.season.count()
        producer = AIOKafkaProducer(
            **kafka_options(self.settings),
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=30000,
        )
        await producer.start()
        await self.answers.start()
        sent, finished, started = 0, 0, time.monotonic()
        try:
            for n, day in enumerate(self.season.days, 1):
                await self._barrier(finished, day.date.isoformat())
                requests = {r.identity for r in day.records if r.kind == "request"}
                for record in day.records:
                    if record.kind == "livescore" and requests:
                        await producer.flush()
                        await self._answered(requests, day.date.isoformat())
                        requests = set()
                    while self.faults and self.faults[0].at * total <= sent:
                        self._apply(self.faults.pop(0))
                    topic = (
                        self.settings.match_requests_topic
                        if record.kind == "request"
                        else self.settings.livescores_topic
                    )
                    await self._send(producer, topic, record.key, record.value)
                    sent += 1
                    # A steady rate: the record is due at sent / rate seconds.
                    ahead = sent / self.rate - (time.monotonic() - started)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
                await producer.flush()
                finished += len(day.finished)
                if n % 25 == 0:
                    say(f"day {n}/{len(self.season.days)}: {sent}/{total} records sent")
            await self._barrier(finished, "the end")
            for fault in self.faults:  # due at the very end
                self._apply(fault)
            for task in self.background:
                await task
        finally:
            await self.answers.stop()
            with contextlib.suppress(KafkaError):
                await producer.stop()

    async def _send(self, producer: AIOKafkaProducer, topic: str, key: bytes, value: bytes) -> None:
        """Send until acknowledged: a broker restart makes sends fail for a while."""
        while True:
            try:
                await producer.send(topic, value, key=key)
                return
            except KafkaError as exc:
                say(f"send failed ({type(exc).__name__}); again in 1 s")
                await asyncio.sleep(1.0)

    async def _barrier(self, results: int, before: str) -> None:
        """Wait until every running worker has ``results`` results applied."""
        deadline = time.monotonic() + STALL_SECONDS
        while True:
            views = [await _applied(w) for w in list(self.workers.running)]
            answering = [v for v in views if v is not None]
            if answering and min(answering) >= results:
                return
            if time.monotonic() > deadline:
                raise Stalled(
                    f"before {before}: {results} results sent, workers hold {views} "
                    f"({[w.base_url for w in self.workers.running]})"
                )
            await asyncio.sleep(0.02)

    async def _answered(self, identities: set[str], day: str) -> None:
        """Wait until each of ``identities`` has the champion's answer (or a dead letter)
        and the challenger's: a worker killed between the two would otherwise have the
        request read again after kick-off, and the challenger's pre-match forecast would
        never be made (in the world, kick-off is hours after the request, and the request
        read again is answered before it)."""
        deadline = time.monotonic() + STALL_SECONDS
        while not (identities <= self.answers.seen and identities <= self.answers.shadowed):
            if time.monotonic() > deadline:
                champion = sorted(identities - self.answers.seen)
                shadow = sorted(identities - self.answers.shadowed)
                raise Stalled(
                    f"{day}: {len(champion)} requests without the champion's answer, "
                    f"{len(shadow)} without the challenger's (first {[*champion, *shadow][0]})"
                )
            await asyncio.sleep(0.01)

    def _apply(self, fault: Fault) -> None:
        say(f"fault: {fault.line()}")
        actions: dict[str, Callable[[], object]] = {
            "kill_worker": lambda: self.workers.kill(fault.worker),
            "stop_worker": lambda: self.workers.stop(fault.worker),
            "start_worker": lambda: self.workers.start(wait=False),
            "pause_redis": lambda: self.servers.pause_redis(REDIS_PAUSE_SECONDS),
            "restart_broker": self.servers.restart_broker,
            "stop_registry": self.servers.registry.stop,
            "start_registry": self.servers.registry.start,
            "move_champion": lambda: move_champion(self.servers.registry_uri, *self.versions),
        }
        self.background.append(asyncio.ensure_future(asyncio.to_thread(actions[fault.kind])))


async def settle(settings: Settings, workers: Workers, identities: set[str]) -> None:
    """Block until every input is answered, every running worker is ready and its read
    models have applied every output (the scores and timelines are complete then). Past
    :data:`SETTLE_SECONDS` it returns anyway: the ledger names what is missing."""
    deadline = time.monotonic() + SETTLE_SECONDS
    answers = Answers(settings)
    await answers.start()
    try:
        while time.monotonic() < deadline:
            missing = identities - answers.seen
            if not missing:
                break
            say(f"waiting for {len(missing)} answers")
            await asyncio.sleep(2.0)
    finally:
        await answers.stop()
    await asyncio.to_thread(workers.wait_ready, max(deadline - time.monotonic(), 30.0))
    for worker in workers.running:
        left = max(deadline - time.monotonic(), 30.0)
        await asyncio.to_thread(worker.wait_read_models, left)

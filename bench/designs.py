"""One runner per design: produce a backlog, start the design, read its outputs, stop it.

Each runner gets its own topics (``bench.workload.fresh_topics``), runs the design as a
child process so the benchmark's own reading does not share its interpreter, and returns
``bench.report.Row``s. Rates are drains of a backlog produced before the design started.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bench.pipeline_latency import (
    MATCHES,
    event,
    produce_at_rate,
    produce_backlog,
    read_predictions,
)
from bench.rabbitmq import RabbitMQ
from bench.report import Row
from bench.workload import (
    drain_rate,
    payload_sizes,
    percentiles_ms,
    read_stamps,
)
from devstack.supervisor import Supervised, free_port
from devstack.worker import REPO, WorkerProcess, http_get, settings_env
from streams.faust_glue.topic_admin import ensure_topics
from streams.settings import Settings


def _say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def child(argv: list[str], env: dict[str, str], log: Path) -> Supervised:
    """A design under test as a child process, its output in ``log``."""
    return Supervised(log.stem, log).start(argv, env=env, cwd=REPO)


def stage_split(workers: list[WorkerProcess]) -> str:
    """Each batch stage's share of the workers' summed batch wall time, from /metrics."""
    seconds: dict[str, float] = {}
    for worker in workers:
        status, body = http_get(f"{worker.base_url}/metrics")
        if status != 200:
            raise RuntimeError(f"{worker.base_url}/metrics answered {status}")
        for family in text_string_to_metric_families(body.decode()):
            if family.name == "soccer_batch_stage_seconds":
                for sample in family.samples:
                    if sample.name.endswith("_sum"):
                        stage = sample.labels["stage"]
                        seconds[stage] = seconds.get(stage, 0.0) + sample.value
    total = sum(seconds.values()) or 1.0
    return " ".join(f"{stage} {value / total:.0%}" for stage, value in seconds.items())


async def drain_note(workers: list[WorkerProcess], timeout: float) -> str:
    """What a drain row's note adds to its settings: each batch stage's share, then how
    long the read models took to catch up after the drain (they wait while it lasts)."""
    split = stage_split(workers)
    caught_up = max([await asyncio.to_thread(w.wait_read_models, timeout) for w in workers])
    return f"; batch time: {split}; read models caught up {caught_up:.1f}s after"


def _predicted_at(body: bytes | str) -> float:
    return dt.datetime.fromisoformat(json.loads(body)["predicted_at"]).timestamp()


async def _drain_outputs(
    settings: Settings, count: int, timeout: float
) -> list[tuple[float, bytes]]:
    got = await read_stamps(settings, settings.predictions_topic, count, timeout)
    if len(got) < count:
        raise RuntimeError(f"only {len(got)} of {count} outputs within {timeout:.0f}s")
    return got


async def _drain_by_child(
    settings: Settings, count: int, design: tuple[list[str], dict[str, str], Path], name: str
) -> tuple[int, float]:
    """Produce ``count`` events, run ``design`` (argv, env, log) until all are answered, stop
    it; the number answered and the drain rate."""
    await ensure_topics(settings)
    await produce_backlog(settings, count)
    _say(f"{name}: draining {count:,} events")
    process = child(*design)
    try:
        got = await _drain_outputs(settings, count, timeout=600)
    finally:
        process.stop()
    return len(got), drain_rate([t for t, _ in got])


async def ceiling(settings: Settings, count: int, root: Path) -> Row:
    """The bare aiokafka relay over the same topics and record sizes."""
    argv = [sys.executable, "-m", "bench.ceiling", "--bootstrap", settings.kafka_bootstrap_servers,
            "--source", settings.livescores_topic, "--sink", settings.predictions_topic,
            "--group", settings.consumer_group, "--body-size", str(payload_sizes()[1])]  # fmt: skip
    events, rate = await _drain_by_child(
        settings, count, (argv, {}, root / "ceiling.log"), "ceiling: bare aiokafka relay"
    )
    return Row("ceiling: bare aiokafka loop", events, rate)


async def faust_floor(settings: Settings, count: int, root: Path) -> Row:
    """The worker's Faust app and batching with no work (``bench.faust_floor``)."""
    argv = [sys.executable, "-m", "bench.faust_floor", "--body-size", str(payload_sizes()[1])]
    events, rate = await _drain_by_child(
        settings, count, (argv, settings_env(settings), root / "faust_floor.log"), "faust floor"
    )
    return Row("faust floor: no-op agent", events, rate, note="same app")


async def faust_worker(
    settings: Settings,
    count: int,
    root: Path,
    rates: list[int],
    seconds: float,
    label: str,
    workers: int = 1,
    matches: int = MATCHES,
) -> list[Row]:
    """The real worker (``python -m streams worker``): a drain of ``count`` events of
    ``matches`` matches, then steady rates.

    The drain is the champion's: its read models wait while it has a backlog, and the
    note says how long they took to catch up after it; the steady rates start once they
    have (a steady rate is measured at a steady state). With ``workers`` > 1 they run as
    one consumer group, each with its own web port and state folder, like the scale-out
    test.
    """
    await ensure_topics(settings)
    await produce_backlog(settings, count, matches)
    _say(f"{label}: draining {count:,} events ({count // matches} a match)")
    members = [
        WorkerProcess(
            Settings(
                **settings.model_dump()
                | {"web_port": free_port(), "state_dir": root / f"{label}-{i}".replace(" ", "_")}
            )
            if workers > 1
            else settings,
            root / f"{settings.consumer_group}-{i}.log",
        ).launch()
        for i in range(workers)
    ]
    rows = []
    try:
        for worker in members:
            worker.wait_ready(timeout=180)
        got = await read_predictions(settings, count, timeout=600)
        if len(got) < count:
            raise RuntimeError(f"{label}: only {len(got)} of {count} predictions")
        note = f"BATCH_SIZE={settings.batch_size}"
        drained = note + await drain_note(members, 600)
        rows.append(Row(f"{label}: drain", len(got), drain_rate([t for t, _ in got]), note=drained))
        done = len(got)
        for phase, rate in enumerate(rates, 1):
            _say(f"{label}: steady {rate:,}/s for {seconds:.0f}s")
            phase_start = time.time()
            sent = await produce_at_rate(settings, rate, seconds, first_match=10_000 * phase)
            got = await read_predictions(settings, done + sent, timeout=180)
            done = len(got)
            # Partitions arrive interleaved: this phase's events are those sent after it began.
            fresh = [k - e for k, e in got if e >= phase_start]
            p50, p99 = percentiles_ms(fresh)
            rows.append(Row(f"{label} @ {rate:,}/s", len(fresh), sent / seconds, p50, p99, note))
    finally:
        for worker in members:
            worker.stop()
    return rows


async def faust_worker_after_history(
    settings: Settings, matches: int, history: int, backlog: int, root: Path, label: str
) -> Row:
    """The worker's drain of ``backlog`` events a match when each match already has
    ``history`` events behind it: the same backlog as the standard drain, so the two rates
    differ only by what the matches' history costs.

    The history is drained first and its read models caught up; then the worker stops, the
    backlog is produced, and a restarted worker (its state and read models recovered from
    their changelogs) drains it.
    """
    await ensure_topics(settings)
    await produce_backlog(settings, matches * history, matches, finish=False)
    _say(f"{label}: {history} events a match of history first")
    worker = WorkerProcess(settings, root / f"{settings.consumer_group}-history.log").launch()
    try:
        worker.wait_ready(timeout=180)
        if (
            len(await read_predictions(settings, matches * history, timeout=900))
            < matches * history
        ):
            raise RuntimeError(f"{label}: the history was not answered")
        await asyncio.to_thread(worker.wait_read_models, 900)
    finally:
        worker.stop()
    await produce_backlog(settings, matches * backlog, matches, first_seq=history)
    _say(f"{label}: draining {matches * backlog:,} events ({history + backlog} a match)")
    restarted = time.time()
    worker = WorkerProcess(settings, root / f"{settings.consumer_group}-drain.log").launch()
    try:
        worker.wait_ready(timeout=300)
        total = matches * (history + backlog)
        got = await read_predictions(settings, total, timeout=900)
        fresh = [t for t, _ in got if t >= restarted]
        if len(fresh) < matches * backlog:
            raise RuntimeError(f"{label}: only {len(fresh)} of {matches * backlog} predictions")
        note = f"BATCH_SIZE={settings.batch_size}" + await drain_note([worker], 900)
        return Row(f"{label}: drain", len(fresh), drain_rate(fresh), note=note)
    finally:
        worker.stop()


async def quix(settings: Settings, count: int, root: Path) -> Row:
    """The Quix Streams version (``bench.quix_peer``), one message at a time."""
    await ensure_topics(settings)
    await produce_backlog(settings, count)
    _say(f"quix streams: draining {count:,} events")
    peer = child(
        [sys.executable, "-m", "bench.quix_peer"], settings_env(settings), root / "quix.log"
    )
    try:
        got = await _drain_outputs(settings, count, timeout=600)
    finally:
        peer.stop()
    # Quix stamps outputs with the input's timestamp, so read when each was made instead.
    return Row(
        "quix streams, per message", len(got), drain_rate([_predicted_at(v) for _, v in got])
    )


async def _task_results(redis_url: str, task_ids: list[str], timeout: float) -> list[str]:
    """The return values of ``task_ids`` read straight from Celery's Redis result keys.

    Polled with MGET rather than through Celery's result API, whose native join hung in
    this setup; the keys are Celery's documented ``celery-task-meta-<id>``.
    """
    import redis

    client = redis.Redis.from_url(redis_url)
    found: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(found) < len(task_ids) and time.monotonic() < deadline:
            waiting = [t for t in task_ids if t not in found]
            for start in range(0, len(waiting), 1000):
                chunk = waiting[start : start + 1000]
                values = client.mget([f"celery-task-meta-{t}" for t in chunk])
                for task_id, raw in zip(chunk, values, strict=True):
                    if raw is not None:
                        meta = json.loads(raw)
                        if meta["status"] != "SUCCESS":
                            raise RuntimeError(f"task {task_id}: {meta['status']} {meta['result']}")
                        found[task_id] = meta["result"]
            await asyncio.sleep(0.5)
    finally:
        client.close()
    if len(found) < len(task_ids):
        raise RuntimeError(f"only {len(found)} of {len(task_ids)} tasks done in {timeout:.0f}s")
    return [found[t] for t in task_ids]


async def celery(settings: Settings, count: int, root: Path, concurrency: int) -> Row:
    """The Celery design: ``count`` tasks queued in RabbitMQ, then a worker drains them."""
    from celery import Celery

    broker = RabbitMQ(root / "rabbitmq")
    _say("celery: starting a private RabbitMQ node")
    broker.start()
    worker = None
    try:
        # A client app of its own per run: Celery caches broker connections per app, and
        # every run has its own RabbitMQ node.
        client = Celery("bench-client", broker=broker.url)
        queue = f"{settings.consumer_group}-tasks"
        task_ids = []
        for i in range(count):
            key, value = event(i % 500, i // 500)
            sent = client.send_task(
                "bench.predict_event", (key.decode(), value.decode()), queue=queue
            )
            task_ids.append(sent.id)
        client.close()
        _say(f"celery: draining {count:,} tasks (prefork x{concurrency})")
        env = {
            **settings_env(settings),
            "BENCH_CELERY_BROKER": broker.url,
            "BENCH_CELERY_BACKEND": settings.redis_url.get_secret_value(),
        }
        worker = child(
            [sys.executable, "-m", "celery", "-A", "bench.celery_tasks", "worker", "-Q", queue,
             "--concurrency", str(concurrency), "--pool", "prefork", "--loglevel", "WARNING",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            env, root / "celery.log",
        )  # fmt: skip
        answers = await _task_results(settings.redis_url.get_secret_value(), task_ids, timeout=900)
    finally:
        if worker is not None:
            worker.stop()
        broker.stop()
    return Row(
        f"celery + rabbitmq, prefork x{concurrency}",
        len(answers),
        drain_rate([_predicted_at(a) for a in answers]),
        note="one task per event",
    )

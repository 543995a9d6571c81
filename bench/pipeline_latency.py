"""Throughput and latency of one worker on the real local stack.

    .venv/bin/python -m bench.pipeline_latency [--backlog 30000] [--rates 1000] [--seconds 20]

1. Sustained rate: a backlog of livescore events is produced first, then one worker starts
   and drains it; events/s is measured between the first and the last prediction's Kafka
   timestamps (worker start-up is outside the window).
2. Latency at steady rates: events are produced at each fixed rate; the latency of each
   prediction is its Kafka timestamp (when the worker produced it) minus the event's
   ``ts`` (stamped by the producer at send time). Same machine, same clock.
Prints one table. Absolute numbers depend on the machine: compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from devstack.local_stack import LocalStack
from devstack.supervisor import free_port
from devstack.topics import run_names
from devstack.worker import REPO
from streams.connect.kafka import kafka_options
from streams.settings import Settings


def train(root: Path) -> Settings:
    uri = f"sqlite:///{root / 'mlflow.db'}"
    subprocess.run(
        [sys.executable, "-m", "models", "train", "--synthetic", "1500",
         "--features-dir", str(root / "features")],
        cwd=REPO, check=True, capture_output=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri, "STATE_DIR": str(root / "state")},
    )  # fmt: skip
    run = uuid.uuid4().hex[:8]
    return Settings(
        mlflow_tracking_uri=uri,
        features_dir=root / "features",
        state_dir=root / "state",
        **run_names(f"bench{run}"),
        web_port=free_port(),
    )


#: Matches of a backlog (a full run; the quick run's backlogs have a fifth of them).
MATCHES = 500
#: Events a match has in the standard backlog, and in the one that shows whether the cost
#: of an event grows with its match's history.
PER_MATCH = 60
LONG_PER_MATCH = 300


def event(match: int, seq: int, status: str = "live", first_match: int = 0) -> tuple[bytes, bytes]:
    match_id = f"bench-{first_match + match}"
    body = {
        "match_id": match_id, "seq": seq, "ts": dt.datetime.now(dt.UTC).isoformat(),
        "status": status, "minute": min(seq, 90), "home_goals": seq % 3, "away_goals": seq % 2,
        "home_team": f"Team {match % 40}", "away_team": f"Team {(match + 7) % 40}",
    }  # fmt: skip
    return match_id.encode(), json.dumps(body).encode()


async def produce_backlog(
    settings: Settings,
    count: int,
    matches: int = MATCHES,
    first_seq: int = 0,
    finish: bool = True,
) -> None:
    """``count`` livescores of ``matches`` matches from ``first_seq`` on, interleaved as
    live matches are; with ``finish`` each match's last event is its ``finished`` one, so
    results and live scoring work too."""
    last = first_seq + max(1, count // matches) - 1
    producer = AIOKafkaProducer(**kafka_options(settings), linger_ms=5, acks=1)
    await producer.start()
    try:
        for i in range(count):
            seq = first_seq + i // matches
            status = "finished" if finish and seq == last else "live"
            key, value = event(i % matches, seq, status)
            await producer.send(settings.livescores_topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def produce_at_rate(
    settings: Settings, rate: int, seconds: float, first_match: int, matches: int = MATCHES
) -> int:
    """Livescores at ``rate`` per second for ``seconds``, of ``matches`` matches numbered
    from ``first_match`` (matches of their own: the backlog's have finished)."""
    producer = AIOKafkaProducer(**kafka_options(settings), acks=1)
    await producer.start()
    sent = 0
    started = time.monotonic()
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(elapsed * rate)
            while sent < due:
                key, value = event(sent % matches, sent // matches, first_match=first_match)
                await producer.send(settings.livescores_topic, value, key=key)
                sent += 1
            await asyncio.sleep(0.002)
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def read_predictions(
    settings: Settings, expected: int, timeout: float
) -> list[tuple[float, float]]:
    """(kafka timestamp s, event ts s) of each prediction, until ``expected`` arrived."""
    consumer = AIOKafkaConsumer(
        settings.predictions_topic, **kafka_options(settings),
        auto_offset_reset="earliest", group_id=None, enable_auto_commit=False,
        max_partition_fetch_bytes=4 << 20,
    )  # fmt: skip
    await consumer.start()
    out: list[tuple[float, float]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for messages in batch.values():
                for m in messages:
                    body = json.loads(m.value)
                    event_ts = dt.datetime.fromisoformat(body["event_ts"]).timestamp()
                    out.append((m.timestamp / 1000, event_ts))
    finally:
        await consumer.stop()
    return out


async def run(args: argparse.Namespace) -> None:
    # Imported here: bench.designs builds on this module's producers and readers.
    from bench.designs import faust_worker
    from bench.report import table
    from devstack.topics import delete_topics_named

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print("training a benchmark model ...", file=sys.stderr)
        settings = train(root)
        try:
            rows = await faust_worker(
                settings, args.backlog, root, args.rates, args.seconds, "pipeline"
            )
        finally:
            await delete_topics_named(settings, settings.consumer_group)
    print(table(rows, None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=30000)
    parser.add_argument("--rates", type=int, nargs="+", default=[1000])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    LocalStack(Settings()).up()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()

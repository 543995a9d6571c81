"""From an alias move in the registry to the first prediction of the new version.

    .venv/bin/python -m bench.alias_swap [--trials 5] [--rate 50]

A real ``mlflow server`` holds two versions of the same model. One worker serves a steady
stream of match requests; the bench moves ``champion`` between the two versions and times
each move until the first prediction that names the new version (its Kafka timestamp).
Twice, side by side: with the MLflow registry webhook (``POST /hooks/mlflow``) and with
alias polling alone (``MODEL_POLL_SECONDS``, 30 s by default). Prints one table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from devstack.local_stack import LocalStack
from devstack.mlflow_server import MlflowServer
from devstack.supervisor import free_port
from devstack.topics import delete_topics_named, run_names
from devstack.worker import REPO, WorkerProcess
from models import registry
from schemas.features import MATCHES_FILE
from streams.connect.kafka import kafka_options
from streams.faust_glue.topic_admin import ensure_topics
from streams.settings import Settings

SECRET = "bench-webhook-secret"


def say(message: str) -> None:
    print(f"[alias-swap] {message}", file=sys.stderr, flush=True)


def train(uri: str, root: Path) -> Path:
    import os
    import subprocess

    features = root / "features"
    subprocess.run(
        [sys.executable, "-m", "models", "train", "--synthetic", "1500",
         "--features-dir", str(features)],
        cwd=REPO, check=True, capture_output=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri, "STATE_DIR": str(root / "state")},
    )  # fmt: skip
    return features


async def stream_requests(settings: Settings, ids: list[str], rate: float, stop: asyncio.Event):
    producer = AIOKafkaProducer(**kafka_options(settings))
    await producer.start()
    sent = 0
    try:
        while not stop.is_set():
            mid = ids[sent % len(ids)]
            body = {"request_id": f"r{sent}", "match_id": mid}
            await producer.send(
                settings.match_requests_topic, json.dumps(body).encode(), key=mid.encode()
            )
            sent += 1
            await asyncio.sleep(1 / rate)
    finally:
        await producer.stop()


async def time_moves(
    settings: Settings, uri: str, versions: tuple[str, str], trials: int, spread: float
) -> list[float]:
    """Seconds from each alias move to the first prediction of the version moved to.

    Moves are ``spread`` seconds apart at most, at random: a move made a fixed time after
    the last swap (which came right after a poll) would always meet the poll at the same
    point of its cycle.
    """
    rng = random.Random(7)
    consumer = AIOKafkaConsumer(
        settings.predictions_topic,
        **kafka_options(settings),
        auto_offset_reset="latest",
        group_id=None,
        fetch_max_wait_ms=20,
    )
    await consumer.start()
    out = []
    try:
        await consumer.getmany(timeout_ms=1000)  # take up the latest position
        serving = await asyncio.to_thread(registry.alias_version, "soccer_clf", "champion", uri)
        for trial in range(trials):
            target = versions[1] if serving == versions[0] else versions[0]
            serving = target
            moved = time.time()
            await asyncio.to_thread(registry.set_alias, "soccer_clf", "champion", target, uri)
            seen = None
            while seen is None:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        body = json.loads(record.value)
                        if body["model"]["version"] == target and record.timestamp / 1000 >= moved:
                            seen = record.timestamp / 1000
                            break
                if time.time() - moved > 120:
                    raise RuntimeError(f"no prediction of v{target} within 120 s")
            out.append(seen - moved)
            say(f"move {trial + 1}/{trials} to v{target}: {seen - moved:.2f}s")
            await asyncio.sleep(rng.uniform(1.0, spread))
    finally:
        await consumer.stop()
    return out


async def run_mode(
    mode: str, base: Settings, uri: str, ids: list[str], args: argparse.Namespace, root: Path
) -> list[float]:
    run = f"swap{mode}{uuid.uuid4().hex[:6]}"
    fields = base.model_dump() | run_names(run) | {"web_port": free_port()}
    if mode == "webhook":
        fields["mlflow_webhook_secret"] = SECRET
    settings = Settings(**fields)
    await ensure_topics(settings)
    worker = WorkerProcess(settings, root / f"{run}.log").launch()
    hook = None
    stop = asyncio.Event()
    feeder = None
    try:
        worker.wait_ready(timeout=180)
        if mode == "webhook":
            from mlflow.entities.webhook import WebhookAction, WebhookEntity, WebhookEvent

            hook = registry.client(uri).create_webhook(
                name=run,
                url=f"{worker.base_url}/hooks/mlflow",
                events=[WebhookEvent(WebhookEntity.MODEL_VERSION_ALIAS, WebhookAction.CREATED)],
                secret=SECRET,
            )
        feeder = asyncio.create_task(stream_requests(settings, ids, args.rate, stop))
        await asyncio.sleep(3.0)
        say(f"{mode}: {args.trials} moves")
        return await time_moves(settings, uri, ("1", "2"), args.trials, args.poll_seconds)
    finally:
        stop.set()
        if feeder is not None:
            await feeder
        if hook is not None:
            registry.client(uri).delete_webhook(hook.webhook_id)
        worker.stop()
        await delete_topics_named(settings, run)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="alias-swap-") as tmp:
        root = Path(tmp)
        server = MlflowServer(root / "mlflow").start()
        try:
            say(f"training two versions into {server.uri}")
            features = train(server.uri, root)
            registry.copy_version("soccer_clf", "1", server.uri)
            registry.set_alias("soccer_clf", "champion", "1", server.uri)
            matches = pd.read_parquet(features / MATCHES_FILE)
            ids = [str(i) for i in matches.get("match_id", matches.index)]
            base = Settings(
                mlflow_tracking_uri=server.uri,
                features_dir=features,
                state_dir=root / "state",
                model_poll_seconds=args.poll_seconds,
            )
            found = {}
            for mode in ("webhook", "poll"):
                found[mode] = await run_mode(mode, base, server.uri, ids[-200:], args, root)
        finally:
            server.stop()
    print(
        f"alias move to the first prediction of the new version, {args.trials} moves each, "
        f"requests at {args.rate:g}/s, MODEL_POLL_SECONDS={args.poll_seconds:g}"
    )
    print(f"{'path':<28}{'mean s':>9}{'median s':>10}{'max s':>8}")
    for mode, label in (("webhook", "webhook + polling"), ("poll", "polling alone")):
        times = found[mode]
        print(
            f"{label:<28}{statistics.mean(times):>9.2f}{statistics.median(times):>10.2f}"
            f"{max(times):>8.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--poll-seconds", type=float, default=30.0)
    # The service's log lines (topics created, ...) go to stderr: stdout is the table.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    LocalStack(Settings()).up()
    asyncio.run(main(parser.parse_args()))

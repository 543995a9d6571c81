"""``python -m streams demo`` (``make demo``): the whole service on embedded defaults.

    python -m streams demo                       # until Ctrl-C
    python -m streams demo --matches 3 --speed 600 --duration 20

1. starts the local Kafka and Redis (``python -m streams stack up``),
2. trains and registers a champion on synthetic data if the registry has none,
3. starts ``python -m streams worker`` (its log goes to STATE_DIR/demo-worker.log),
4. replays a synthetic World Cup as ``livescores`` events and prints each prediction,
5. keeps serving the status page until Ctrl-C (or ``--duration``), then stops the worker.

Needs no data files. The stack stays up afterwards; ``python -m streams stack down``
stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import signal
import subprocess
import sys
import time
from typing import Any, TextIO

from devstack.local_stack import LocalStack
from devstack.worker import WorkerProcess, http_get
from streams.cli import CommandError
from streams.cli.args import positive_float, positive_int
from streams.cli.kafka_io import ensure_service_topics, new_records, producer, quiet_logging
from streams.cli.match_feed import ReplayMatch, schedule, select_matches
from streams.cli.show import prediction_line
from streams.settings import Settings

TRAIN_MATCHES, TRAIN_SEED = 3000, 7
TOURNAMENT, TOURNAMENT_SEED = "FIFA World Cup", 2026
STAGGER_MINUTES = 15.0
READY_TIMEOUT_SECONDS = 120.0


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("demo", help="run everything on embedded defaults")
    parser.add_argument(
        "--matches", type=positive_int, default=12, help="matches to replay (default 12)"
    )
    parser.add_argument(
        "--speed",
        type=positive_float,
        default=10.0,
        help="match-minutes per real second (default 10: a match takes 9 s)",
    )
    parser.add_argument(
        "--duration",
        type=positive_float,
        metavar="SECONDS",
        help="stop by itself after this long (default: run until Ctrl-C)",
    )
    parser.set_defaults(handler=run)


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def ensure_stack(settings: Settings) -> None:
    """Start the local Kafka and Redis, except a server that already answers: that one
    (a running ``stack up``, a container, CI's) is used as it is."""
    from devstack.probes import kafka_ready, redis_ready

    local = LocalStack(settings)
    for name, server, answers, address in (
        ("redis", local.redis, redis_ready(settings.redis_url), settings.redis_url),
        (
            "kafka",
            local.kafka,
            kafka_ready(settings.kafka_bootstrap_servers),
            settings.kafka_bootstrap_servers,
        ),
    ):
        if answers:
            say(f"{name}: answering at {address}")
        else:
            began = time.monotonic()
            server.start()
            say(f"{name}: started at {address} ({time.monotonic() - began:.1f}s)")


def ensure_champion(settings: Settings) -> None:
    """Train a champion on synthetic data unless the registry and feature tables have one."""
    from models.registry import alias_version
    from schemas.features import MANIFEST_FILE

    version = alias_version(settings.model_name, settings.model_alias, settings.registry_uri)
    if version is not None and (settings.features_dir / MANIFEST_FILE).is_file():
        say(f"model: {settings.model_name}@{settings.model_alias} is version {version}")
        return
    say(f"model: none yet; training one on {TRAIN_MATCHES} synthetic matches (about 15 s)")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "models",
            "train",
            "--synthetic",
            str(TRAIN_MATCHES),
            "--seed",
            str(TRAIN_SEED),
            "--features-dir",
            str(settings.features_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if done.returncode != 0:
        tail = " | ".join(done.stdout.strip().splitlines()[-3:])
        raise CommandError(f"training failed ({done.returncode}): {tail}")
    say(f"model: {done.stdout.strip().splitlines()[-1]}")


def status_url(settings: Settings) -> str:
    host = settings.web_host if settings.web_host not in {"0.0.0.0", "::"} else "127.0.0.1"
    return f"http://{host}:{settings.web_port}/"


async def wait_ready(worker: WorkerProcess) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not await asyncio.to_thread(_ready, worker):
        if worker.returncode is not None:
            raise CommandError(
                f"the worker exited with {worker.returncode}; see the end of {worker.log_path}"
            )
        if time.monotonic() > deadline:
            raise CommandError(f"the worker is not ready after {READY_TIMEOUT_SECONDS:.0f}s")
        await asyncio.sleep(0.5)


def _ready(worker: WorkerProcess) -> bool:
    try:
        return http_get(f"{worker.base_url}/ready", timeout=3)[0] == 200
    except OSError:
        return False


def tournament(matches: int) -> list[ReplayMatch]:
    """The last ``matches`` World Cup matches of a synthetic history the model never saw."""
    from models.synthetic import generate_matches

    data = generate_matches(max(400, 60 * matches), TOURNAMENT_SEED)
    chosen = select_matches(data, tournament=TOURNAMENT, max_matches=matches)
    return chosen if len(chosen) == matches else select_matches(data, max_matches=matches)


async def live(args: argparse.Namespace, settings: Settings, out: TextIO, url: str) -> None:
    """Replay the tournament, print its predictions as they come, then keep serving."""
    matches = tournament(args.matches)
    ids = {m.match_id for m in matches}
    width = max(len(i) for i in ids)
    await ensure_service_topics(settings)
    async with (
        producer(settings) as client,
        new_records(settings, client, [settings.predictions_topic]) as records,
    ):
        events = schedule(
            matches,
            speed=args.speed,
            start=dt.datetime.now(dt.UTC),
            stagger_minutes=STAGGER_MINUTES,
        )
        say(
            f"replaying {len(matches)} {TOURNAMENT} matches ({len(events)} events) at "
            f"{args.speed:g} match-minutes/s; status page: {url}"
        )

        async def send_all() -> None:
            start = asyncio.get_running_loop().time()
            for event in events:
                wait = start + event.delay - asyncio.get_running_loop().time()
                if wait > 0:
                    await asyncio.sleep(wait)
                await client.send(settings.livescores_topic, event.value, key=event.key)
            await client.flush()

        sender = asyncio.create_task(send_all())
        answered = 0
        try:
            async with asyncio.timeout(events[-1].delay + 60):
                async for _, record in records:
                    if record.get("match_id") in ids and record.get("trigger") == "livescore":
                        print(prediction_line(record, width), file=out, flush=True)
                        answered += 1
                        if answered >= len(events):
                            break
        except TimeoutError:
            say(f"only {answered} of {len(events)} events were answered in time")
        await sender
    say(
        f"tournament replayed: {answered} predictions. The status page keeps serving at {url} "
        "- press Ctrl-C to stop"
    )
    await asyncio.Event().wait()  # until Ctrl-C, SIGTERM or --duration cancels us


async def main(args: argparse.Namespace, settings: Settings, worker: WorkerProcess) -> None:
    url = status_url(settings)
    say(f"worker starting (log: {worker.log_path}); waiting until it is ready")
    await wait_ready(worker)
    say(f"worker ready. Status page: {url}")
    task = asyncio.current_task()
    assert task is not None
    # SIGTERM stops the demo as Ctrl-C does, so the worker is never left running.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(args.duration):
            await live(args, settings, sys.stdout, url)


def run(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logging()
    ensure_stack(settings)
    ensure_champion(settings)
    # In a session of its own: the terminal's Ctrl-C reaches only the demo, which then
    # stops the worker in order.
    worker = WorkerProcess(settings, settings.state_dir / "demo-worker.log").launch(
        own_session=True
    )
    try:
        asyncio.run(main(args, settings, worker))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(file=sys.stdout)
        say("stopping")
    finally:
        worker.stop()
    say("worker stopped. Kafka and Redis are still running;")
    say("stop them with: python -m streams stack down   (or: make stack-down)")
    return 0

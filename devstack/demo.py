"""``python -m streams demo`` (``make demo``): the whole service on embedded defaults.

    python -m streams demo                       # a synthetic World Cup, until Ctrl-C
    python -m streams demo --matches 6 --speed 600 --duration 20
    python -m streams demo --data data/international_results \
        --tournament "FIFA World Cup" --year 2022

1. starts the local Kafka and Redis (``python -m streams stack up``),
2. trains and registers a champion on synthetic data if the registry has none,
3. starts ``python -m streams worker`` (its log goes to STATE_DIR/demo-worker.log),
4. plays a tournament (:mod:`devstack.tournament`): a ``match-requests`` record before each
   kick-off, then the match as ``livescores`` events; prints each prediction, and the
   extra time, shoot-outs, group tables and champion as they happen,
5. keeps serving the status page and the match pages until Ctrl-C (or ``--duration``),
   then stops the worker.

By default the tournament is a seeded synthetic World Cup (``--seed``), which needs no data
files; ``--data`` replays a real one from the ``international_results`` data with its goal
minutes (``--tournament``, ``--year``: the latest by default). The stack stays up
afterwards; ``python -m streams stack down`` stops it.
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
import uuid
from pathlib import Path
from typing import Any, TextIO

from devstack.local_stack import LocalStack
from devstack.tournament import (
    Tournament,
    TournamentMatch,
    load_shootouts,
    real_tournament,
    tournament_years,
    world_cup,
)
from devstack.worker import WorkerProcess, http_get
from streams.cli import CommandError
from streams.cli.args import positive_float, positive_int
from streams.cli.kafka_io import ensure_service_topics, new_records, producer, quiet_logging
from streams.cli.match_feed import ReplayMatch, request_schedule, schedule
from streams.cli.show import prediction_line
from streams.connect.kafka import kafka_options
from streams.connect.redis import redis_options
from streams.settings import Settings

TRAIN_MATCHES, TRAIN_SEED = 3000, 7
TOURNAMENT, TOURNAMENT_SEED = "FIFA World Cup", 2026
REQUEST_LEAD_MINUTES = 10.0
# The worker reads requests and livescores as separate streams, so at a high --speed a
# request also needs this much real time to be answered before its match kicks off.
REQUEST_LEAD_SECONDS = 1.0
READY_TIMEOUT_SECONDS = 120.0


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("demo", help="run everything on embedded defaults")
    parser.add_argument(
        "--matches",
        type=positive_int,
        metavar="N",
        help="play only the first N matches (default: the whole tournament)",
    )
    parser.add_argument(
        "--speed",
        type=positive_float,
        default=10.0,
        help="match-minutes per real second (default 10: a match takes 9 s, the synthetic "
        "World Cup about 5 minutes)",
    )
    parser.add_argument(
        "--duration",
        type=positive_float,
        metavar="SECONDS",
        help="stop by itself after this long (default: run until Ctrl-C)",
    )
    parser.add_argument(
        "--seed",
        type=positive_int,
        help=f"which synthetic World Cup to play (default {TOURNAMENT_SEED})",
    )
    parser.add_argument(
        "--data",
        type=Path,
        metavar="PATH",
        help="replay a real tournament from this international_results folder instead",
    )
    parser.add_argument(
        "--tournament",
        metavar="NAME",
        help=f"with --data: the tournament to replay (default {TOURNAMENT!r})",
    )
    parser.add_argument(
        "--year",
        type=positive_int,
        metavar="YYYY",
        help="with --data: the year of the edition to replay (default: the latest)",
    )
    parser.set_defaults(handler=run)


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def _kafka_security(settings: Settings) -> dict[str, Any]:
    """The security keywords of ``kafka_options`` (a secured cluster is probed as one)."""
    return {k: v for k, v in kafka_options(settings).items() if k != "bootstrap_servers"}


def ensure_stack(settings: Settings) -> None:
    """Start the local Kafka and Redis, except a server that already answers: that one
    (a running ``stack up``, a container, CI's) is used as it is."""
    from devstack.probes import kafka_ready, redis_ready

    local = LocalStack(settings)
    for name, server, answers, address in (
        (
            "redis",
            local.redis,
            redis_ready(settings.redis_url.get_secret_value(), **redis_options(settings)),
            settings.redis_shown,
        ),
        (
            "kafka",
            local.kafka,
            kafka_ready(settings.kafka_bootstrap_servers, security=_kafka_security(settings)),
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


def match_pages_url(settings: Settings) -> str:
    return f"{status_url(settings)}matches"


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


def choose_tournament(args: argparse.Namespace) -> Tournament:
    """The tournament the arguments name; one-line errors for bad arguments or data."""
    if args.data is None:
        if args.tournament is not None or args.year is not None:
            raise CommandError("--tournament and --year choose from --data; give --data", 2)
        seed = TOURNAMENT_SEED if args.seed is None else args.seed
        return world_cup(seed, dt.datetime.now(dt.UTC).date())
    if args.seed is not None:
        raise CommandError("--seed is for the synthetic World Cup; --data replays real matches", 2)
    from models.data import DataError, load_results

    name = TOURNAMENT if args.tournament is None else args.tournament
    try:
        data = load_results(args.data)
        shootouts = load_shootouts(args.data)
    except DataError as exc:
        raise CommandError(str(exc), exit_code=2) from None
    years = tournament_years(data, name)
    if not years:
        raise CommandError(f"{args.data}: no {name!r} matches", exit_code=2)
    year = years[-1] if args.year is None else args.year
    if year not in years:
        recent = ", ".join(str(y) for y in years[-5:])
        raise CommandError(
            f"{args.data}: no {name!r} matches in {year} (the latest: {recent})", exit_code=2
        )
    return real_tournament(data, name, year, shootouts)


def about(seconds: float) -> str:
    return f"about {seconds:.0f} s" if seconds < 90 else f"about {seconds / 60:.0f} min"


def with_lead(replays: list[ReplayMatch], speed: float) -> tuple[list[ReplayMatch], float]:
    """The matches moved later so the first one's request gets its lead too, and the lead
    in match-minutes."""
    lead = max(REQUEST_LEAD_MINUTES, REQUEST_LEAD_SECONDS * speed)
    first = min(r.kickoff_minute or 0.0 for r in replays)
    shift = max(lead - first, 0.0)
    moved = [
        r.model_copy(update={"kickoff_minute": (r.kickoff_minute or 0.0) + shift}) for r in replays
    ]
    return moved, lead


def introduce(tournament: Tournament, out: TextIO) -> None:
    """The groups, before a ball is kicked."""
    for letter, teams in tournament.groups.items():
        print(f"[demo] Group {letter}: {', '.join(teams)}", file=out, flush=True)


async def live(
    args: argparse.Namespace,
    settings: Settings,
    out: TextIO,
    tournament: Tournament,
) -> None:
    """Play the tournament, print its predictions as they come, then keep serving."""
    url, pages = status_url(settings), match_pages_url(settings)
    by_id: dict[str, TournamentMatch] = {m.match_id: m for m in tournament.matches[: args.matches]}
    announcements = tournament.announcements()
    width = max(len(i) for i in by_id)
    replays, lead = with_lead(tournament.replays(args.matches), args.speed)
    await ensure_service_topics(settings)
    async with (
        producer(settings) as client,
        new_records(settings, client, [settings.predictions_topic]) as records,
    ):
        events = schedule(replays, speed=args.speed, start=dt.datetime.now(dt.UTC))
        requests = request_schedule(
            replays,
            speed=args.speed,
            lead_minutes=lead,
            request_prefix=f"demo-{uuid.uuid4().hex[:12]}",
        )
        request_ids = {r.request.request_id for r in requests}
        # A request due with a kick-off goes first: it is the pre-match prediction.
        sends = sorted(
            [(r.delay, 0, settings.match_requests_topic, r.key, r.value) for r in requests]
            + [(e.delay, 1, settings.livescores_topic, e.key, e.value) for e in events],
            key=lambda s: (s[0], s[1]),
        )
        say(
            f"{tournament.name}: {len(replays)} matches, {len(requests)} pre-match requests "
            f"and {len(events)} livescores at {args.speed:g} match-minutes/s "
            f"({about(sends[-1][0])}); status page: {url}  match pages: {pages}"
        )
        introduce(tournament, out)

        async def send_all() -> None:
            start = asyncio.get_running_loop().time()
            for delay, _, topic, key, value in sends:
                wait = start + delay - asyncio.get_running_loop().time()
                if wait > 0:
                    await asyncio.sleep(wait)
                await client.send(topic, value, key=key)
            await client.flush()

        sender = asyncio.create_task(send_all())
        answered = pre_match = 0
        days_shown: set[int] = set()
        try:
            async with asyncio.timeout(sends[-1][0] + 60):
                async for _, record in records:
                    match = by_id.get(record.get("match_id", ""))
                    if match is None:
                        continue
                    trigger = record.get("trigger")
                    if trigger == "livescore":
                        answered += 1
                    elif trigger == "request" and record.get("request_id") in request_ids:
                        if match.day not in days_shown:
                            days_shown.add(match.day)
                            say(f"-- {match.date}: {match.day_title} --")
                        pre_match += 1
                    else:
                        continue
                    print(prediction_line(record, width), file=out, flush=True)
                    if trigger == "livescore" and record.get("status") == "finished":
                        for line in announcements.get(match.match_id, []):
                            say(line)
                    if answered >= len(events) and pre_match >= len(requests):
                        break
        except TimeoutError:
            say(
                f"only {answered} of {len(events)} events and {pre_match} of {len(requests)} "
                "requests were answered in time"
            )
        await sender
    say(
        f"tournament replayed: {answered} predictions and {pre_match} pre-match predictions. "
        f"The status page keeps serving at {url}, the match pages at {pages} "
        "- press Ctrl-C to stop"
    )
    await asyncio.Event().wait()  # until Ctrl-C, SIGTERM or --duration cancels us


async def main(
    args: argparse.Namespace, settings: Settings, worker: WorkerProcess, tournament: Tournament
) -> None:
    url = status_url(settings)
    say(f"worker starting (log: {worker.log_path}); waiting until it is ready")
    await wait_ready(worker)
    say(f"worker ready. Status page: {url}  match pages: {match_pages_url(settings)}")
    task = asyncio.current_task()
    assert task is not None
    # SIGTERM stops the demo as Ctrl-C does, so the worker is never left running.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(args.duration):
            await live(args, settings, sys.stdout, tournament)


def run(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logging()
    # Before anything starts: a bad argument or data folder costs one line, not a stack.
    tournament = choose_tournament(args)
    ensure_stack(settings)
    ensure_champion(settings)
    # In a session of its own: the terminal's Ctrl-C reaches only the demo, which then
    # stops the worker in order.
    worker = WorkerProcess(settings, settings.state_dir / "demo-worker.log").launch(
        own_session=True
    )
    try:
        asyncio.run(main(args, settings, worker, tournament))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(file=sys.stdout)
        say("stopping")
    finally:
        worker.stop()
    say("worker stopped. Kafka and Redis are still running;")
    say("stop them with: python -m streams stack down   (or: make stack-down)")
    return 0

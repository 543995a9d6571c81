"""``python -m streams replay``: publish real or synthetic matches as ``livescores`` events.

    python -m streams replay --synthetic 200 --seed 3 --max-matches 10 --speed 60
    python -m streams replay --data data/international_results \\
        --tournament "FIFA World Cup" --since 2022-11-20 --max-matches 8 --stagger 30
    python -m streams replay --synthetic 5 --dry-run      # print the events, publish nothing

Progress goes to stderr, the summary line to stdout. Topics and servers come from the
usual settings (LIVESCORES_TOPIC, KAFKA_BOOTSTRAP_SERVERS, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from models.data import DataError, load_results
from streams.cli import CommandError
from streams.cli.args import iso_date, non_negative_float, positive_float, positive_int
from streams.cli.kafka_io import ensure_service_topics, producer, quiet_logging
from streams.cli.match_feed import ReplayMatch, ScheduledEvent, schedule, select_matches
from streams.settings import Settings


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "replay", help="publish real or synthetic matches as livescores events"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, metavar="DIR", help="international_results folder")
    source.add_argument("--synthetic", type=positive_int, metavar="N", help="N synthetic matches")
    parser.add_argument("--seed", type=int, default=0, help="seed of --synthetic (default 0)")
    parser.add_argument(
        "--speed",
        type=positive_float,
        default=60.0,
        help="match-minutes per real second (default 60: a match takes 1.5 s)",
    )
    parser.add_argument(
        "--stagger",
        type=non_negative_float,
        default=0.0,
        metavar="MINUTES",
        help="match-minutes between kick-offs (default 0: all kick off together)",
    )
    parser.add_argument(
        "--max-matches",
        type=positive_int,
        metavar="N",
        help="the N most recent matches that pass the filters (the first N with --since)",
    )
    parser.add_argument("--tournament", help="only this tournament (case-insensitive)")
    parser.add_argument("--since", type=iso_date, metavar="DATE", help="only from this date on")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the events as JSON lines; publish nothing"
    )
    parser.set_defaults(handler=run)


def load_matches(args: argparse.Namespace) -> list[ReplayMatch]:
    """The matches the arguments select; one-line errors for bad data or empty selections."""
    if args.data is not None:
        try:
            data = load_results(args.data)
        except DataError as exc:
            raise CommandError(str(exc), exit_code=2) from None
    else:
        from models.synthetic import generate_matches

        data = generate_matches(args.synthetic, args.seed)
    matches = select_matches(
        data, tournament=args.tournament, since=args.since, max_matches=args.max_matches
    )
    if not matches:
        raise CommandError("no match passes the filters (--tournament/--since)", exit_code=2)
    return matches


def progress(message: str) -> None:
    print(f"[replay] {message}", file=sys.stderr, flush=True)


async def publish(
    settings: Settings,
    events: list[ScheduledEvent],
    *,
    on_progress: Callable[[str], None] = progress,
) -> int:
    """Send each event at its time; returns how many the broker acknowledged."""
    await ensure_service_topics(settings)
    total_matches = len({e.key for e in events})
    finished = 0
    async with producer(settings) as client:
        loop = asyncio.get_running_loop()
        start, last_report = loop.time(), time.monotonic()
        acks = []
        for i, event in enumerate(events, 1):
            wait = start + event.delay - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            acks.append(await client.send(settings.livescores_topic, event.value, key=event.key))
            finished += event.event.status == "finished"
            if time.monotonic() - last_report >= 1.0 or i == len(events):
                last_report = time.monotonic()
                on_progress(
                    f"{i}/{len(events)} events, {finished}/{total_matches} matches finished"
                )
        await asyncio.gather(*acks)
    return len(acks)


def run(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logging()
    matches = load_matches(args)
    events = schedule(
        matches,
        speed=args.speed,
        start=dt.datetime.now(dt.UTC),
        stagger_minutes=args.stagger,
    )
    if args.dry_run:
        try:
            for event in events:
                print(event.value.decode())
            sys.stdout.flush()
        except BrokenPipeError:  # `| head`: the reader has all it wants
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    progress(
        f"{len(matches)} matches, {len(events)} events to {settings.livescores_topic} "
        f"at {args.speed:g} match-minutes/s (about {events[-1].delay:.0f}s)"
    )
    sent = asyncio.run(publish(settings, events))
    print(f"published {sent} events of {len(matches)} matches to {settings.livescores_topic}")
    return 0

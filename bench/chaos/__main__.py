"""Chaos with a ledger: the same season through a clean run and a run under faults.

    .venv/bin/python -m bench.chaos [--data data/international_results] [--seed N]
    .venv/bin/python -m bench.chaos --synthetic 1500 --short      # CI's short run

The clean run is one worker and no fault; the chaos run is two workers (three at times)
under the seeded fault schedule (``bench.chaos.faults``), printed first so a failure can be
replayed with ``--seed``. Both serve the same two model versions from their own
``mlflow server`` and read the same input (``bench.chaos.season_input``) from their own
topics on a broker of their own. Afterwards the ledger (``bench.chaos.ledger``) compares
them; its last line is

    chaos: <N> inputs, <L> lost, <D> duplicates, ratings identical: yes|no, ...

and the exit code is 0 only when nothing is lost and every check holds.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
import uuid
from pathlib import Path

import structlog

from bench.chaos.cluster import Servers, Workers
from bench.chaos.drive import Driver, Stalled, say, settle
from bench.chaos.faults import Fault, describe, full_schedule, short_schedule
from bench.chaos.ledger import ledger, lost_inputs
from bench.chaos.observe import Observations, observe
from bench.chaos.registry_prep import prepare_registry, reset_aliases
from bench.chaos.season_input import SeasonInput, season_input
from bench.dixon_coles_anchor import DEFAULT_DATA
from devstack.topics import run_names
from models.data import DataError, MatchData, load_results
from models.synthetic import generate_matches
from streams.faust_glue.topic_admin import ensure_topics
from streams.settings import Settings

#: The real season: issue 25's 2023-24.
SEASON = (dt.date(2023, 1, 1), dt.date(2024, 12, 31))
#: Of a synthetic history, the season is its last this many days.
SYNTHETIC_SEASON_DAYS = 45
#: The challenger's budget per batch. At the default 0.1 s, a busy day's backlog makes the
#: challenger late on some batches of one run and not of the other, and a late answer is
#: dropped by design (docs/model.md, "Challengers in shadow"): its live scores would then
#: differ for a reason that is not a fault. With time to answer every batch, the ledger
#: compares the challenger's scores as strictly as the champion's.
SHADOW_WAIT_SECONDS = 2.0
#: How soon a SIGKILLed worker's partitions move (the broker's minimum session timeout).
SESSION_TIMEOUT_SECONDS = 6.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos", description=__doc__.splitlines()[0]
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", type=Path, default=DEFAULT_DATA, help="results CSVs")
    source.add_argument(
        "--synthetic", type=int, metavar="N", help="N synthetic matches instead of the data"
    )
    parser.add_argument("--seed", type=int, default=25, help="the fault schedule's seed")
    parser.add_argument(
        "--short", action="store_true", help="CI's schedule: kill, rebalance, Redis"
    )
    parser.add_argument("--rate", type=float, default=400.0, help="records a second within a day")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="write both runs' observations here (JSON)"
    )
    args = parser.parse_args(argv)
    if args.rate <= 0:
        parser.error("--rate must be > 0")
    if args.synthetic is not None and args.synthetic < 200:
        parser.error("--synthetic needs at least 200 matches (a history to fit, then a season)")
    return args


def load(args: argparse.Namespace) -> tuple[MatchData, dt.date, dt.date]:
    """The history and the season's first and last days."""
    if args.synthetic is not None:
        data = generate_matches(args.synthetic, seed=args.seed)
        last = data.results["date"].max().date()
        return data, last - dt.timedelta(days=SYNTHETIC_SEASON_DAYS - 1), last
    return load_results(args.data), *SEASON


def run_settings(servers: Servers, features_dir: Path, state: Path, kind: str) -> Settings:
    return Settings(
        kafka_bootstrap_servers=servers.broker.bootstrap,
        redis_url=servers.redis_url,
        mlflow_tracking_uri=servers.registry_uri,
        features_dir=features_dir,
        state_dir=state,
        model_poll_seconds=2.0,
        shadow_wait_seconds=SHADOW_WAIT_SECONDS,
        kafka_session_timeout_seconds=SESSION_TIMEOUT_SECONDS,
        **run_names(f"chaos-{kind}-{uuid.uuid4().hex[:6]}"),
    )


async def one_run(
    kind: str,
    workers_count: int,
    faults: list[Fault],
    season: SeasonInput,
    servers: Servers,
    versions: tuple[str, str],
    home: Path,
    rate: float,
) -> Observations:
    settings = run_settings(servers, home / "features", home / kind, kind)
    reset_aliases(servers.registry_uri, *versions)
    await ensure_topics(settings)
    workers = Workers(settings, home / kind)
    began = time.monotonic()
    try:
        for _ in range(workers_count):
            workers.start(wait=False)
        await asyncio.to_thread(workers.wait_ready)
        say(f"{kind} run: {workers_count} worker(s) ready; sending {season.count()} records")
        await Driver(settings, season, servers, workers, faults, versions, rate).run()
        await settle(settings, workers, {r.identity for r in season.records})
        seen = await observe(settings, workers.running, season.match_ids())
        say(f"{kind} run: {time.monotonic() - began:.0f} s")
        return seen
    finally:
        workers.stop_all()


async def main(args: argparse.Namespace) -> int:
    data, since, until = load(args)
    season = season_input(data, since, until)
    faults = (short_schedule if args.short else full_schedule)(args.seed)
    print(
        f"season {since}..{until}: {len(season.days)} days, {len(season.match_ids())} matches, "
        f"{season.count()} records"
    )
    print(describe(faults, args.seed), flush=True)
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        home = Path(tmp)
        servers = Servers(home)
        try:
            say("starting a broker, redis-server and mlflow server of its own")
            await asyncio.to_thread(servers.start)
            versions = await asyncio.to_thread(
                prepare_registry, data, since, servers.registry_uri, home / "features", say
            )
            clean = await one_run("clean", 1, [], season, servers, versions, home, args.rate)
            if lost := lost_inputs(season, clean):
                print(f"the clean run lost {len(lost)} inputs (first: {lost[0]}): no reference")
                return 1
            chaos = await one_run("chaos", 2, faults, season, servers, versions, home, args.rate)
        except Stalled as exc:
            print(f"chaos: stalled: {exc}")
            return 1
        finally:
            servers.stop()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        for name, seen in (("clean", clean), ("chaos", chaos)):
            (args.keep / f"{name}.json").write_text(seen.model_dump_json())
    result = ledger(season, clean, chaos)
    print(result.summary())
    return 0 if result.ok else 1


def run(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The workers' and clients' log lines go to stderr: stdout is the schedule and ledger.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    try:
        return asyncio.run(main(args))
    except DataError as exc:
        print(f"python -m bench.chaos: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(run())

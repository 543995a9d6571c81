"""All benchmarks in one run, one table: ``.venv/bin/python -m bench`` (or ``make bench``).

    .venv/bin/python -m bench [--quick] [--only DESIGN ...]

Side by side on one machine in one run, so the ratios are what to read (absolute numbers
move with the machine's load):
  ceiling     a bare aiokafka consume-and-produce loop, no work, same topics and sizes
  floor       the worker's own Faust app and micro-batches with no work: Faust's share
  pipeline    one Faust worker: backlog drain, then p50/p99 at steady 100/1,000/5,000 ev/s
  long        the same backlog drained when each match already has 240 events behind it
  pipeline2   two Faust workers in one group (one per core, like Celery's prefork x2): drain
  unbatched   the same worker with BATCH_SIZE=1 (one predict per event)
  shadow      the same worker with one challenger in shadow (a copy of the champion): drain
  quix        the same flow on Quix Streams, one message at a time
  celery      the replaced design: one Celery task per event, RabbitMQ broker, Redis results
The local Kafka and Redis are started when they are not running; RabbitMQ is started
privately on a free port and stopped at the end. Needs the ``bench`` extra:
``.venv/bin/pip install -e '.[bench]'`` and ``apt-get install rabbitmq-server``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import sys
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from bench import designs
from bench.pipeline_latency import LONG_PER_MATCH, MATCHES, PER_MATCH, train
from bench.report import Row, row_line, table, target_lines, targets
from bench.workload import fresh_topics, payload_sizes
from devstack.local_stack import LocalStack
from devstack.topics import delete_topics_named
from streams.logs import configure_logging
from streams.settings import Settings

ALL = (
    "ceiling", "floor", "pipeline", "long", "pipeline2", "unbatched", "shadow", "quix", "celery"
)  # fmt: skip
PIPELINE = "pipeline (1 faust worker)"
LONG = f"pipeline, {LONG_PER_MATCH} events a match"
PAIR = "pipeline (2 faust workers)"
UNBATCHED = "pipeline, batching off"
SHADOW = "pipeline, one challenger in shadow"
#: The challenger alias of the shadow design only: the other designs run no challenger.
SHADOW_ALIAS = "bench-shadow"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


async def run(args: argparse.Namespace) -> list[Row]:
    scale = 0.2 if args.quick else 1.0
    # The drains keep their events a match and the quick run has fewer matches, so the
    # standard and the long drain stay PER_MATCH and LONG_PER_MATCH events a match.
    matches = int(MATCHES * scale)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        root = Path(tmp)
        print("[bench] training a benchmark model ...", file=sys.stderr, flush=True)
        base = train(root)

        def n(count: int) -> int:
            return max(500, int(count * scale))

        async def attempt(
            name: str, coro: Coroutine[Any, Any, Row | list[Row]], settings: Settings
        ) -> None:
            try:
                found = await coro
                found = found if isinstance(found, list) else [found]
                rows.extend(found)
                for row in found:  # as it comes, so a later hang or failure loses nothing
                    print(f"[bench] {row_line(row)}", file=sys.stderr, flush=True)
            except Exception as exc:  # one design failing must not lose the others' numbers
                print(f"[bench] {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                rows.append(Row(name, 0, 0.0, note=f"failed: {type(exc).__name__}: {exc}"[:80]))
            finally:
                await delete_topics_named(settings, settings.consumer_group)

        if "ceiling" in args.only:
            ceiling = fresh_topics(base, "ceil")
            await attempt("ceiling", designs.ceiling(ceiling, n(60000), root), ceiling)
        if "floor" in args.only:
            floor = fresh_topics(base, "floor")
            await attempt("floor", designs.faust_floor(floor, n(30000), root), floor)
        if "pipeline" in args.only:
            faust = fresh_topics(base, "faust")
            await attempt(
                PIPELINE,
                designs.faust_worker(
                    faust,
                    matches * PER_MATCH,
                    root,
                    args.rates,
                    args.seconds,
                    PIPELINE,
                    matches=matches,
                ),
                faust,
            )
        if "long" in args.only:
            long = fresh_topics(base, "long")
            await attempt(
                LONG,
                designs.faust_worker_after_history(
                    long, matches, LONG_PER_MATCH - PER_MATCH, PER_MATCH, root, LONG
                ),
                long,
            )
        if "pipeline2" in args.only:
            pair = fresh_topics(base, "pair")
            await attempt(
                PAIR,
                designs.faust_worker(
                    pair,
                    matches * PER_MATCH,
                    root,
                    [],
                    args.seconds,
                    PAIR,
                    workers=2,
                    matches=matches,
                ),
                pair,
            )
        if "unbatched" in args.only:
            plain = fresh_topics(base, "unbatched")
            unbatched = Settings(**{**plain.model_dump(), "batch_size": 1})
            await attempt(
                UNBATCHED,
                designs.faust_worker(
                    unbatched, n(5000), root, args.unbatched_rates, args.seconds, UNBATCHED
                ),
                unbatched,
            )
        if "shadow" in args.only:
            from models import registry

            copy = registry.copy_version(base.model_name, "1", base.registry_uri)
            registry.set_alias(base.model_name, SHADOW_ALIAS, copy, base.registry_uri)
            shadowed = Settings(
                **fresh_topics(base, "shadow").model_dump() | {"challenger_aliases": SHADOW_ALIAS}
            )
            await attempt(
                SHADOW,
                designs.faust_worker(
                    shadowed, matches * PER_MATCH, root, [], args.seconds, SHADOW, matches=matches
                ),
                shadowed,
            )
        if "quix" in args.only:
            quix = fresh_topics(base, "quix")
            await attempt("quix", designs.quix(quix, n(5000), root), quix)
        for concurrency in args.concurrency if "celery" in args.only else []:
            celery = fresh_topics(base, "celery")
            await attempt(
                f"celery x{concurrency}",
                designs.celery(celery, n(2000), root, concurrency),
                celery,
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=ALL, default=list(ALL))
    parser.add_argument("--quick", action="store_true", help="a fifth of the events (smoke run)")
    parser.add_argument("--rates", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--unbatched-rates", type=int, nargs="*", default=[100])
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each steady rate")
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[os.cpu_count() or 2, 1],
        help="Celery prefork sizes to run; the fastest is the one the target compares with",
    )
    args = parser.parse_args()
    # Progress lines and the table only: the service's own info lines (topics created, ...)
    # are the worker's business; warnings and errors still show, on stderr.
    configure_logging("WARNING")
    LocalStack(Settings()).up()
    rows = asyncio.run(run(args))

    sizes = payload_sizes()
    rate_of = {r.name: r.rate for r in rows}
    ceiling = rate_of.get("ceiling: bare aiokafka loop")
    print(
        f"\nbench: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {os.cpu_count()} cores "
        f"({_cpu()}), Python {platform.python_version()}; event {sizes[0]} B -> output "
        f"{sizes[1]} B; command: {' '.join(['python -m bench', *sys.argv[1:]])}\n"
    )
    print(table(rows, ceiling))
    found = targets(
        rows,
        {
            "pipeline": f"{PIPELINE}: drain",
            "floor": "faust floor: no-op agent",
            "celery_1": "celery + rabbitmq, prefork x1",
            "steady_100": f"{PIPELINE} @ 100/s",
            "steady_1000": f"{PIPELINE} @ 1,000/s",
            "long": f"{LONG}: drain",
            "shadow": f"{SHADOW}: drain",
        },
    )
    print("\ntargets (issue 21; ratios of rows of this run):")
    print(target_lines(found))
    same = [
        (f"{PIPELINE}: drain", "celery + rabbitmq, prefork x1"),
        (f"{PAIR}: drain", "celery + rabbitmq, prefork x2"),
    ]
    ratios = [(a, b) for a, b in same if rate_of.get(a) and rate_of.get(b)]
    if ratios:
        print("\nthe same number of processes (context for the Celery target):")
        for ours, theirs in ratios:
            print(f"  {ours} / {theirs}: {rate_of[ours] / rate_of[theirs]:.1f}x")


if __name__ == "__main__":
    main()

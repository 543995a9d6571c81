"""``python -m streams topics``: create every topic the service uses, before the workers.

    python -m streams topics --dry-run   # what exists, what would be created, with what
    python -m streams topics             # create what is missing (again: nothing to do)

The inputs and outputs get ``TOPIC_PARTITIONS`` partitions (``cleanup.policy=delete``),
the internal ``{CONSUMER_GROUP}-results``, ``-scores`` and ``-dlq-replayed`` topics one
partition, compacted, and the table changelog ``{CONSUMER_GROUP}-match_to_state-changelog``
``TOPIC_PARTITIONS`` partitions, compacted; every one with ``TOPIC_REPLICATION_FACTOR``
replicas. Existing topics are left as they are; one whose partition count differs from
the wanted one is reported (a single ``error:`` line) and the exit status is 1, as the
worker cannot co-partition its state with its inputs then. The Helm chart's hook job runs
this command with the worker's settings and credentials (the Kafka connection options of
:mod:`streams.cli.kafka_io`).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from aiokafka.errors import KafkaError

from streams.cli import CommandError
from streams.cli.dlq_kafka import ledger_spec
from streams.cli.kafka_io import admin, no_answer, quiet_logging
from streams.faust_glue.topic_admin import (
    TopicCheck,
    TopicSpec,
    changelog_topics,
    create_missing,
    service_topics,
    widen_results,
)
from streams.settings import Settings


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("topics", help="create every topic the service uses")
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be created, create nothing"
    )
    parser.set_defaults(handler=run)


def wanted_topics(settings: Settings) -> list[TopicSpec]:
    """Every topic of the service: the worker's own list, the table changelogs (which the
    worker leaves to Faust) and the DLQ command's replay ledger."""
    return [*service_topics(settings), *changelog_topics(settings), ledger_spec(settings)]


def describe(spec: TopicSpec, replicas: int) -> str:
    configs = " ".join(f"{k}={v}" for k, v in sorted(spec.configs.items()))
    return f"{spec.name} partitions={spec.partitions} replicas={replicas} {configs}".rstrip()


def report(specs: list[TopicSpec], check: TopicCheck, replicas: int, *, dry_run: bool) -> list[str]:
    """One line per topic: exists, created (or would be), or refused by the broker."""
    created = set(check.created)
    lines = []
    for spec in specs:
        if spec.name in check.existing:
            lines.append(f"exists       {spec.name} partitions={check.existing[spec.name]}")
        elif spec.name in created:
            verb = "would create" if dry_run else "created     "
            lines.append(f"{verb} {describe(spec, replicas)}")
        elif spec.name in check.failed:
            lines.append(f"refused      {spec.name}: {check.failed[spec.name]}")
    return lines


def problem(specs: list[TopicSpec], check: TopicCheck) -> str | None:
    """The one line that says what is wrong (None when nothing is)."""
    parts = []
    mismatched = check.mismatched(specs)
    fewer = [f"{s.name} has {n}, wants {s.partitions}" for s, n in mismatched if n < s.partitions]
    more = [f"{s.name} has {n}, wants {s.partitions}" for s, n in mismatched if n > s.partitions]
    if fewer:
        # Kafka can add partitions but not remove them; adding moves keys to new partitions,
        # so it is the operator's call (with the workers stopped), not this command's.
        parts.append(
            f"too few partitions: {', '.join(fewer)} (add them with kafka-topics.sh --alter "
            f"--partitions while the workers are stopped)"
        )
    if more:
        parts.append(f"more partitions than wanted: {', '.join(more)} (set TOPIC_PARTITIONS)")
    if check.failed:
        parts.append(f"not created: {', '.join(check.failed)}")
    return "; ".join(parts) or None


async def ensure(settings: Settings, *, dry_run: bool) -> tuple[list[TopicSpec], TopicCheck]:
    specs = wanted_topics(settings)
    async with admin(settings) as client:
        try:
            check = await create_missing(
                client, specs, settings.topic_replication_factor, dry_run=dry_run
            )
            for spec, count in check.mismatched(specs):
                # A results topic made before 2.0.0 (one partition) is widened, as the
                # worker does at start-up: only the team features read what it holds.
                if spec.name == settings.results_topic and count < spec.partitions and not dry_run:
                    await widen_results(client, spec, count)
                    check.existing[spec.name] = spec.partitions
        except (OSError, TimeoutError) as exc:
            raise no_answer(settings) from exc
        except KafkaError as exc:
            raise CommandError(f"kafka: cannot create topics: {exc}") from None
    return specs, check


def run(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logging()
    specs, check = asyncio.run(ensure(settings, dry_run=args.dry_run))
    for line in report(specs, check, settings.topic_replication_factor, dry_run=args.dry_run):
        print(line, flush=True)
    wrong = problem(specs, check)
    if wrong is not None:
        raise CommandError(wrong)
    return 0

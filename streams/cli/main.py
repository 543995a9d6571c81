"""Command line of the service: ``python -m streams <command>``.

    python -m streams demo            # the whole thing on embedded defaults
    python -m streams stack up|down|status|fetch
    python -m streams worker          # the Faust worker (consumes, predicts, serves HTTP)
    python -m streams replay --synthetic 20 --speed 60    # matches as livescores events
    python -m streams request --match-id ID              # ask for one prediction
    python -m streams dlq list|show ID|replay ...        # the dead letters, and replaying them
    python -m streams topics [--dry-run]                 # create every topic the service uses

Every failure a person can fix ends as one ``error: ...`` line and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import io
import signal
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from streams.cli import CommandError
from streams.cli import dev as dev_commands
from streams.cli import dlq as dlq_command
from streams.cli import replay as replay_command
from streams.cli import request as request_command
from streams.cli import topics as topics_command
from streams.settings import Settings


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line instead of usage plus error."""

    def error(self, message: str) -> None:  # type: ignore[override]  # argparse says NoReturn
        self.exit(2, f"error: {message} (see: {self.prog} --help)\n")


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run the Faust worker until SIGINT/SIGTERM (``python -m streams worker``)."""
    import asyncio

    from streams.app import create_app, run_worker
    from streams.connect.kafka_access import KafkaStartupError, check_kafka_access
    from streams.faust_glue.patches import UnsupportedFaust, check_versions
    from streams.faust_glue.topic_admin import TopicUpgradeError, ensure_topics
    from streams.logs import configure_logging

    configure_logging(settings.log_level)
    try:
        check_versions()
    except UnsupportedFaust as exc:
        raise CommandError(str(exc), exit_code=2) from None
    try:
        # A refused login or a missing ACL stops here in one line, not in a retry loop.
        asyncio.run(check_kafka_access(settings))
    except KafkaStartupError as exc:
        raise CommandError(str(exc), exit_code=2) from None
    try:
        asyncio.run(ensure_topics(settings))
    except TopicUpgradeError as exc:
        raise CommandError(str(exc), exit_code=2) from None
    run_worker(create_app(settings).app, settings)
    return 0


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m streams", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    worker = commands.add_parser("worker", help="run the Faust worker (consume, predict, serve)")
    worker.set_defaults(handler=_worker)

    dev_commands.add_parsers(commands)
    replay_command.add_parser(commands)
    request_command.add_parser(commands)
    dlq_command.add_parser(commands)
    topics_command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # `kill -USR1 <pid>` prints every thread's Python stack to stderr: for a process that
    # looks stuck, without stopping it. (Not when stderr is no file, e.g. captured in tests.)
    with contextlib.suppress(AttributeError, ValueError, io.UnsupportedOperation):
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        settings = Settings()
        return int(args.handler(args, settings))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]).upper()
        print(f"error: bad setting {field}: {first['msg']}", file=sys.stderr)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 2

"""The dev-tooling commands of ``python -m streams``: ``stack`` and ``demo``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from devstack import demo
from devstack.local_stack import ComponentStatus, LocalStack
from streams.cli.kafka_io import quiet_logging
from streams.settings import Settings


def add_parsers(commands: Any) -> None:
    stack = commands.add_parser("stack", help="start, stop or inspect the local Kafka and Redis")
    stack.add_argument("action", choices=["up", "down", "status", "fetch"])
    stack.set_defaults(handler=run_stack)
    demo.add_parser(commands)


def run_stack(args: argparse.Namespace, settings: Settings) -> int:
    """``python -m streams stack up|down|status|fetch``."""
    quiet_logging()  # the readiness probes meet refused connections while a broker starts
    stack = LocalStack(settings)
    actions: dict[str, Callable[[], list[ComponentStatus]]] = {
        "up": stack.up,
        "down": stack.down,
        "status": stack.status,
        "fetch": stack.fetch,
    }
    statuses = actions[args.action]()
    for status in statuses:
        print(status.line())
    if args.action == "status":
        return 0 if all(s.ready for s in statuses) else 1
    return 0

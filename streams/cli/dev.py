"""The dev-tooling commands (``stack``, ``demo``) in the service's command line.

Their code is ``devstack/``, which ships with the repository but not in the worker image;
there the commands say so in one line instead of failing on an import.
"""

from __future__ import annotations

import argparse
from typing import Any

from streams.cli import CommandError
from streams.settings import Settings

DEV_COMMANDS = ("stack", "demo")


def add_parsers(commands: Any) -> None:
    try:
        from devstack import cli
    except ModuleNotFoundError as exc:
        if exc.name != "devstack":
            raise  # a broken dev tool must say so, not pretend to be absent
        for name in DEV_COMMANDS:
            parser = commands.add_parser(name, help="dev tooling (not in this install)")
            parser.add_argument("rest", nargs=argparse.REMAINDER)
            parser.set_defaults(handler=_missing)
        return
    cli.add_parsers(commands)


def _missing(args: argparse.Namespace, settings: Settings) -> int:
    raise CommandError(
        f"'{args.command}' is dev tooling from the repository's devstack/ folder, which this "
        "install (e.g. the worker image) does not include",
        exit_code=2,
    )

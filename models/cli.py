"""Command line for training and evaluating the match-outcome model.

Run from the repo root::

    python -m models train --synthetic 3000 --seed 7        # demo data, no files needed
    python -m models train --data data/international_results
    python -m models evaluate --data data/international_results
    python -m models retrain --data data/international_results   # + the results topic

``data/international_results/`` is where a checkout keeps the public international
results dataset (``results.csv`` and ``goalscorers.csv``); git ignores ``data/``.

``train`` and ``retrain`` write progress to stderr and one result line to stdout;
``evaluate`` prints its table to stdout. Bad input (path, CSV, argument) and a broker or
registry that does not answer are one ``error:`` line and exit status 2. Registry and
feature locations come from ``streams.settings.Settings`` (``MLFLOW_TRACKING_URI``,
``MODEL_NAME``, ``FEATURES_DIR``, ``STATE_DIR``); ``retrain`` reads the results topic at
``KAFKA_BOOTSTRAP_SERVERS`` (``{CONSUMER_GROUP}-results``) with the worker's security
settings, and registers the version as ``challenger``, never ``champion``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import structlog

from models.data import DataError, MatchData, load_results
from models.registry import RegistryError
from streams.cli import CommandError

EXIT_USAGE = 2


class UsageError(Exception):
    """A bad command-line argument."""


class _Parser(argparse.ArgumentParser):
    # argparse prints the whole usage before the error; one line is easier to read in CI logs.
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _base_data(command: argparse.ArgumentParser) -> None:
    source = command.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="folder with results.csv and goalscorers.csv")
    source.add_argument("--synthetic", type=_positive, metavar="N_MATCHES", help="synthetic data")
    command.add_argument("--seed", type=int, default=0, help="seed of --synthetic (default 0)")
    command.add_argument(
        "--holdout-from",
        type=_date,
        help="first holdout date (default: 1 January of the year before the last match)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m models`` parser; errors raise :class:`UsageError` instead of exiting."""
    parser = _Parser(prog="python -m models", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train, register, gate and export feature tables")
    _base_data(train)
    train.add_argument("--features-dir", type=Path, help="default: FEATURES_DIR")

    retrain = commands.add_parser(
        "retrain",
        help="train on the base data plus the results topic; register as challenger",
    )
    _base_data(retrain)

    evaluate = commands.add_parser("evaluate", help="print holdout scores against baselines")
    evaluate.add_argument("--data", type=Path, required=True, help="international_results folder")
    evaluate.add_argument("--holdout-from", type=_date, default=dt.date(2023, 1, 1))
    evaluate.add_argument("--holdout-to", type=_date, default=dt.date(2024, 12, 31))
    return parser


def _progress(message: str) -> None:
    print(f"[models] {message}", file=sys.stderr, flush=True)


def _load(args: argparse.Namespace) -> tuple[MatchData, str]:
    if args.data is not None:
        _progress(f"loading {args.data}")
        return load_results(args.data), str(args.data)
    from models.synthetic import generate_matches

    _progress(f"generating {args.synthetic:,} synthetic matches (seed {args.seed})")
    return generate_matches(args.synthetic, args.seed), f"synthetic:{args.synthetic}:{args.seed}"


def _train(args: argparse.Namespace) -> int:
    from models.run import train_and_register
    from streams.settings import Settings

    settings = Settings()
    data, source = _load(args)
    result = train_and_register(
        data,
        model_name=settings.model_name,
        tracking_uri=settings.registry_uri,
        artifacts_dir=settings.artifacts_dir,
        features_dir=args.features_dir or settings.features_dir,
        holdout_from=args.holdout_from,
        source=source,
        progress=_progress,
    )
    print(
        f"{result.name} version {result.version}: {result.promotion.decision} "
        f"(holdout log-loss {result.holdout.log_loss:.4f}, features {result.features_version})"
    )
    return 0


def _retrain(args: argparse.Namespace) -> int:
    from models.registry import CHALLENGER
    from models.registry_probe import check_registry, shown_uri
    from models.results_topic import read_results
    from models.retrain import describe, merge_results, retrain_and_register
    from streams.connect.mlflow import export_mlflow_credentials
    from streams.settings import Settings

    settings = Settings()
    if settings.model_alias == CHALLENGER:
        raise UsageError(
            f"MODEL_ALIAS is {CHALLENGER!r}: retrain registers under that alias, "
            "so it would change the served model"
        )
    if CHALLENGER not in settings.challengers:
        _progress(
            f"note: CHALLENGER_ALIASES={settings.challenger_aliases!r} does not name "
            f"{CHALLENGER!r}: no worker will shadow this version"
        )
    # The base data first: a bad --data is an error before anything is asked of a server.
    data, source = _load(args)
    export_mlflow_credentials(settings)
    _progress(f"registry: {shown_uri(settings.registry_uri)}")
    check_registry(settings.registry_uri)
    topic = settings.results_topic
    _progress(f"reading {topic} at {settings.kafka_bootstrap_servers}")
    values = read_results(settings)
    merged = merge_results(data, values)
    for line in describe(merged, topic):
        _progress(line)
    result = retrain_and_register(
        merged,
        model_name=settings.model_name,
        tracking_uri=settings.registry_uri,
        artifacts_dir=settings.artifacts_dir,
        topic=topic,
        holdout_from=args.holdout_from,
        source=source,
        progress=_progress,
    )
    counts = result.counts
    print(
        f"{result.name} version {result.version}: {result.alias} "
        f"({result.matches - counts.added:,} base matches + {counts.added:,} from {topic}; "
        f"holdout log-loss {result.holdout.log_loss:.4f})"
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from models.evaluation import evaluate, format_report

    data, _ = _load(args)
    _progress("fitting and scoring")
    print(format_report(evaluate(data, args.holdout_from, args.holdout_to)))
    return 0


def _configure_logging() -> None:
    # Structured lines (the promotion decision) go to stderr with the progress, not stdout;
    # sys.stderr is looked up per line so a replaced stream (tests, redirects) is honoured.
    if not structlog.is_configured():
        structlog.configure(logger_factory=lambda *_: structlog.PrintLogger(sys.stderr))
    # Library chatter (MLflow, sklearn) is not progress; real failures still raise.
    warnings.filterwarnings("ignore", module="mlflow")
    warnings.filterwarnings("ignore", category=FutureWarning)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        _configure_logging()
        commands = {"train": _train, "retrain": _retrain, "evaluate": _evaluate}
        return commands[args.command](args)
    except (UsageError, DataError, RegistryError, CommandError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE

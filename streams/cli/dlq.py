"""``python -m streams dlq``: list, show and replay the dead letters.

    python -m streams dlq list --reason schema --since 2026-12-01T10:00 --limit 20
    python -m streams dlq show 2@17
    python -m streams dlq replay --reason unknown_match --dry-run
    python -m streams dlq replay --ids 2@17 0@3 --yes

A letter's ID is its position in the DLQ: ``PARTITION@OFFSET`` as ``list`` prints it, or
in full as the logs write it, ``predictions-dlq[2]@17``. ``replay`` re-publishes the
original key and bytes to the source topic and partition, records each replay in the ledger
topic ``{CONSUMER_GROUP}-dlq-replayed``, and skips the letters found there unless
``--force``. Without ``--yes`` it asks first (and refuses where it cannot ask).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shutil
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from streams.cli import CommandError
from streams.cli.args import positive_int
from streams.cli.dlq_kafka import ensure_ledger, read_snapshot, republish
from streams.cli.dlq_plan import (
    REASONS,
    Filters,
    Letter,
    LetterId,
    Plan,
    Replayed,
    Republish,
    check_topic,
    cut_size,
    earlier_replay,
    iso_time,
    letter_id,
    plan_replay,
)
from streams.cli.kafka_io import producer, quiet_logging
from streams.settings import Settings


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("dlq", help="list, show and replay the dead letters")
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=type(parser))

    def selection(verb: argparse.ArgumentParser) -> None:
        verb.add_argument(
            "--reason",
            nargs="+",
            action="extend",
            choices=REASONS,
            metavar="R",
            help=f"only these error types: {', '.join(REASONS)}",
        )
        verb.add_argument("--source", metavar="TOPIC", help="only letters from this topic")
        verb.add_argument("--since", type=iso_time, metavar="ISO", help="received at or after")
        verb.add_argument("--until", type=iso_time, metavar="ISO", help="received before")
        verb.add_argument("--limit", type=positive_int, metavar="N", help="the oldest N only")

    listing = verbs.add_parser("list", help="one line per dead letter, oldest first")
    selection(listing)
    listing.set_defaults(handler=run_list)

    show = verbs.add_parser("show", help="one dead letter as JSON, its payload decoded")
    show.add_argument("id", type=letter_id, metavar="ID", help="as dlq list shows it: 2@17")
    show.set_defaults(handler=run_show)

    replay = verbs.add_parser("replay", help="re-publish dead letters to their source topics")
    selection(replay)
    replay.add_argument(
        "--ids", nargs="+", action="extend", type=letter_id, metavar="ID", help="these letters"
    )
    replay.add_argument("--all", action="store_true", help="every letter (else choose some)")
    replay.add_argument("--dry-run", action="store_true", help="say what it would do, only")
    replay.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    replay.add_argument("--force", action="store_true", help="send letters replayed before")
    replay.set_defaults(handler=run_replay)


def list_line(letter: Letter, width: int) -> str:
    """``2@17  2026-12-01T10:00:00Z  match-requests[1]@40  schema  message...``."""
    body = letter.body
    when = body.received_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = f"{letter.id:<9}  {when}  {body.location}  {body.error.type:<13}  "
    message = " ".join(body.error.message.split())
    room = max(20, width - len(head))
    return head + (message if len(message) <= room else message[: room - 1] + "…")


def show_document(letter: Letter, dlq_topic: str, replay: Replayed | None) -> dict[str, Any]:
    """The whole letter for a person, its payload decoded (parsed when it is JSON)."""
    body = letter.body
    doc: dict[str, Any] = {"id": letter.id, "dead_letter": letter.position(dlq_topic)}
    doc |= body.model_dump(mode="json")
    try:
        raw = body.payload_bytes()
    except ValueError as exc:
        raw, doc["payload_error"] = None, str(exc)
    if raw is not None:
        text = raw.decode("utf-8", "backslashreplace")
        try:
            doc["payload"] = json.loads(text)
        except ValueError:
            doc["payload"] = text
        doc["payload_bytes"] = len(raw)
    if cut := cut_size(body):
        doc["payload_cut"] = {"kept_bytes": cut[0], "original_bytes": cut[1]}
    doc["replayed"] = replay.model_dump(mode="json") if replay else None
    return doc


def _count(n: int, what: str = "dead letter") -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _width() -> int:
    return shutil.get_terminal_size((120, 24)).columns


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logging()
    dlq = settings.predictions_dlq_topic
    filters = Filters.from_args(args, dlq)
    snapshot = asyncio.run(read_snapshot(settings))
    matching = [x for x in snapshot.letters if filters.matches(x)]
    shown = matching[: args.limit] if args.limit else matching
    for letter in shown:
        print(list_line(letter, _width()))
    summary = f"{_count(len(matching))} match, of {len(snapshot.letters)} in {dlq}"
    if len(shown) < len(matching):
        summary += f"; showing the oldest {len(shown)}"
    if snapshot.unreadable:
        summary += f"; {_count(snapshot.unreadable, 'record')} not dead letters, left out"
    print(summary)
    return 0


def run_show(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logging()
    wanted: LetterId = args.id
    dlq = settings.predictions_dlq_topic
    check_topic([wanted], dlq)
    snapshot = asyncio.run(read_snapshot(settings))
    at = (wanted.partition, wanted.offset)
    letter = next((x for x in snapshot.letters if (x.partition, x.offset) == at), None)
    if letter is None:
        raise CommandError(f"no dead letter at {dlq}[{wanted.partition}]@{wanted.offset}", 2)
    replay = earlier_replay(letter, dlq, snapshot.replays)
    print(json.dumps(show_document(letter, dlq, replay), indent=2, ensure_ascii=False))
    return 0


def _targets(todo: Sequence[Republish]) -> str:
    counts = Counter(item.topic for item in todo)
    return ", ".join(f"{topic} ({n})" for topic, n in sorted(counts.items()))


def describe(plan: Plan, letters: dict[str, Letter], width: int) -> list[str]:
    """One line per letter: what the replay does with it, and why."""
    lines = [f"replay  {list_line(letters[item.dead_letter], width - 8)}" for item in plan.todo]
    lines += [
        f"skip    {x.id}: replayed {r.replayed_at:%Y-%m-%dT%H:%M:%SZ} by {r.by} to {r.replayed_to}"
        for x, r in plan.skipped
    ]
    lines += [f"refuse  {x.id}: {why}" for x, why in plan.refused]
    return lines


def summary(plan: Plan, done: bool) -> str:
    n = len(plan.todo)
    parts = [f"{'replayed' if done else 'would replay'} {_count(n)}"]
    if n:
        parts[0] += f" to {_targets(plan.todo)}"
    if plan.skipped:
        parts.append(f"skipped {len(plan.skipped)} replayed before (--force sends them again)")
    if plan.refused:
        parts.append(f"refused {len(plan.refused)}")
    return "; ".join(parts)


def confirm(question: str) -> bool:
    """Ask y/N on stderr; the answer is read from stdin (a terminal)."""
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in {"y", "yes"}


def _progress(done: int, total: int) -> None:
    print(f"[dlq] re-published {done}/{total}", file=sys.stderr, flush=True)


async def _send(settings: Settings, plan: Plan) -> list[Replayed]:
    await ensure_ledger(settings)
    async with producer(settings) as client:
        return await republish(settings, client, plan.todo, on_progress=_progress)


def run_replay(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logging()
    dlq = settings.predictions_dlq_topic
    filters = Filters.from_args(args, dlq)
    if not (args.all or args.limit or filters != Filters()):
        raise CommandError(
            "choose the letters: --ids, --reason, --source, --since, --until, --limit or --all",
            exit_code=2,
        )
    snapshot = asyncio.run(read_snapshot(settings, cut_sources_of=filters))
    missing = filters.ids - {(x.partition, x.offset) for x in snapshot.letters}
    if missing:
        names = ", ".join(f"{p}@{o}" for p, o in sorted(missing))
        raise CommandError(f"no dead letter at {names} in {dlq}", exit_code=2)
    selected = [x for x in snapshot.letters if filters.matches(x)]
    plan = plan_replay(
        selected,
        dlq,
        snapshot.replays,
        snapshot.partitions,
        snapshot.sources,
        force=args.force,
        limit=args.limit,
    )
    ask = bool(plan.todo) and not (args.yes or args.dry_run)
    if ask and not sys.stdin.isatty():
        raise CommandError(
            f"not replaying {_count(len(plan.todo))} unconfirmed: pass --yes (stdin is no "
            f"terminal to ask on), or --dry-run to see them",
            exit_code=2,
        )
    lines = describe(plan, {x.position(dlq): x for x in selected}, _width())
    if args.dry_run or ask:
        for line in lines:
            print(line, flush=True)
        if args.dry_run:
            print(f"dry run: {summary(plan, done=False)}")
            return 0
        if not confirm(f"replay {_count(len(plan.todo))} to {_targets(plan.todo)}?"):
            print("nothing replayed", file=sys.stderr)
            return 1
    else:
        for line in lines[len(plan.todo) :]:  # the letters not sent, and why
            print(line, file=sys.stderr)
    if plan.todo:
        asyncio.run(_send(settings, plan))
    print(summary(plan, done=True))
    if plan.refused:
        raise CommandError(f"refused {_count(len(plan.refused))} (see the refuse lines)")
    return 0

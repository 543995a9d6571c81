"""The pure side of ``python -m streams dlq``: letter IDs, filters, the ledger record, and
which letters a replay sends, skips or refuses. No Kafka here (see dlq_kafka.py)."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple, get_args

from pydantic import Field, ValidationError

from schemas import DeadLetter, ErrorType
from schemas.common import OutputRecord, Timestamp
from streams.cli import CommandError

REASONS: Final = get_args(ErrorType)
_NUMBER = r"(0|[1-9][0-9]*)"
_SHORT_ID = re.compile(rf"{_NUMBER}@{_NUMBER}")
_FULL_ID = re.compile(rf"([A-Za-z0-9._-]{{1,249}})\[{_NUMBER}\]@{_NUMBER}")
#: The note streams/flow/dead_letters.py puts first in the message of a cut payload.
_CUT_NOTE = re.compile(r"\[payload cut to its first ([0-9]+) of ([0-9]+) bytes;")


class LetterId(NamedTuple):
    """A dead letter's DLQ position; ``topic`` is None in the short form."""

    topic: str | None
    partition: int
    offset: int


def letter_id(text: str) -> LetterId:
    """``2@17`` or ``predictions-dlq[2]@17``, nothing looser (an argparse type)."""
    if short := _SHORT_ID.fullmatch(text):
        return LetterId(None, int(short[1]), int(short[2]))
    if full := _FULL_ID.fullmatch(text):
        return LetterId(full[1], int(full[2]), int(full[3]))
    raise argparse.ArgumentTypeError(
        f"not a dead letter ID (PARTITION@OFFSET as dlq list shows, or TOPIC[P]@OFFSET): {text!r}"
    )


def check_topic(ids: Iterable[LetterId], dlq_topic: str) -> None:
    """A ``CommandError`` (exit 2) for a full-form ID of another topic than the DLQ."""
    for wrong in ids:
        if wrong.topic not in (None, dlq_topic):
            raise CommandError(
                f"ID {wrong.topic}[{wrong.partition}]@{wrong.offset} is not in {dlq_topic} "
                f"(PREDICTIONS_DLQ_TOPIC)",
                exit_code=2,
            )


def iso_time(text: str) -> dt.datetime:
    """An ISO date or date-time; without a UTC offset it is UTC (an argparse type)."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]): {text!r}"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Stored:
    """One record as read from a topic."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class Letter:
    """A dead letter and its position in the DLQ."""

    partition: int
    offset: int
    body: DeadLetter

    @property
    def id(self) -> str:
        return f"{self.partition}@{self.offset}"

    def position(self, dlq_topic: str) -> str:
        return f"{dlq_topic}[{self.partition}]@{self.offset}"


def parse_letters(records: Iterable[Stored]) -> tuple[list[Letter], int]:
    """The records that are dead letters, oldest first, and how many were not."""
    letters, unreadable = [], 0
    for record in records:
        try:
            body = DeadLetter.model_validate_json(record.value or b"")
        except ValidationError:
            unreadable += 1
            continue
        letters.append(Letter(record.partition, record.offset, body))
    letters.sort(key=lambda x: (x.body.received_at, x.partition, x.offset))
    return letters, unreadable


@dataclass(frozen=True)
class Filters:
    """Which letters a command looks at; empty fields let everything through."""

    reasons: frozenset[str] = frozenset()
    source: str | None = None
    since: dt.datetime | None = None  # inclusive
    until: dt.datetime | None = None  # exclusive
    ids: frozenset[tuple[int, int]] = frozenset()

    @classmethod
    def from_args(cls, args: argparse.Namespace, dlq_topic: str) -> Filters:
        """The filters the arguments ask for; a ``CommandError`` (exit 2) if they clash."""
        if args.since and args.until and args.since >= args.until:
            raise CommandError("--since must be before --until", exit_code=2)
        ids = getattr(args, "ids", None) or []
        check_topic(ids, dlq_topic)
        return cls(
            reasons=frozenset(args.reason or ()),
            source=args.source,
            since=args.since,
            until=args.until,
            ids=frozenset((i.partition, i.offset) for i in ids),
        )

    def matches(self, letter: Letter) -> bool:
        body = letter.body
        return (
            (not self.reasons or body.error.type in self.reasons)
            and (self.source is None or body.source_topic == self.source)
            and (self.since is None or body.received_at >= self.since)
            and (self.until is None or body.received_at < self.until)
            and (not self.ids or (letter.partition, letter.offset) in self.ids)
        )


def cut_size(body: DeadLetter) -> tuple[int, int] | None:
    """(bytes kept, bytes of the original) when the worker cut the payload, else None."""
    note = _CUT_NOTE.match(body.error.message)
    return (int(note[1]), int(note[2])) if note else None


def whole_from_source(body: DeadLetter, source: Stored | None) -> bytes | str:
    """A cut letter's original payload, from the record at its source position, or why it
    cannot be had (a str): that record must have the key and begin with the bytes kept."""
    kept, total = cut_size(body) or (0, 0)
    if source is None:
        return f"payload cut to {kept} of {total} bytes, and {body.location} is gone"
    if (
        source.key != body.key_bytes()
        or source.value is None
        or len(source.value) != total
        or source.value[:kept] != body.payload_bytes()
    ):
        return f"payload cut, and {body.location} holds another record than the one cut"
    return source.value


class Replayed(OutputRecord):
    """One ledger record: a dead letter re-published to its source topic."""

    dead_letter: str = Field(min_length=1, description="Its DLQ position topic[p]@offset.")
    source: str = Field(min_length=1, description="Where the original was: topic[p]@offset.")
    received_at: Timestamp = Field(
        description="The letter's received_at: tells it from a later letter at a reused "
        "position (a DLQ topic deleted and made again)."
    )
    replayed_to: str = Field(min_length=1, description="Where it went: topic[p]@offset.")
    replayed_at: Timestamp
    by: str = Field(min_length=1, description="user@host that ran the replay.")
    forced: bool = Field(description="Re-published with --force after an earlier replay.")


def newest_replays(records: Sequence[Stored]) -> tuple[dict[str, Replayed], int]:
    """The ledger as DLQ position -> newest replay (a tombstone forgets one), and how many
    records were no ledger records (left out: a stray record must not stop a replay)."""
    replays: dict[str, Replayed] = {}
    unreadable = 0
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        if record.key is None:
            unreadable += 1
        elif record.value is None:
            replays.pop(record.key.decode("utf-8", "replace"), None)
        else:
            try:
                replay = Replayed.model_validate_json(record.value)
            except ValidationError:
                unreadable += 1
                continue
            replays[record.key.decode("utf-8", "replace")] = replay
    return replays, unreadable


def earlier_replay(letter: Letter, dlq_topic: str, replays: dict[str, Replayed]) -> Replayed | None:
    """The ledger's replay of this very letter: same position, source and received_at."""
    replay = replays.get(letter.position(dlq_topic))
    if replay is None or replay.source != letter.body.location:
        return None
    return replay if replay.received_at == letter.body.received_at else None


@dataclass(frozen=True)
class Republish:
    """One letter to send back: where it was, where it goes, and its original bytes."""

    dead_letter: str
    source: str
    received_at: dt.datetime
    topic: str
    partition: int
    key: bytes | None
    value: bytes | None
    forced: bool


@dataclass
class Plan:
    """What a replay does with each selected letter."""

    todo: list[Republish] = field(default_factory=list)
    skipped: list[tuple[Letter, Replayed]] = field(default_factory=list)
    refused: list[tuple[Letter, str]] = field(default_factory=list)


def plan_replay(
    letters: Sequence[Letter],
    dlq_topic: str,
    replays: dict[str, Replayed],
    partitions: dict[str, int],
    sources: dict[str, Stored | None],
    *,
    force: bool,
    limit: int | None = None,
) -> Plan:
    """Sort the selected letters into send, skip (replayed before) and refuse.

    ``partitions`` are the topics' partition counts; ``sources`` the source records of the
    cut letters by location (None: gone). ``limit`` caps the letters to send.
    """
    plan = Plan()
    for letter in letters:
        body = letter.body
        replay = earlier_replay(letter, dlq_topic, replays)
        if replay is not None and not force:
            plan.skipped.append((letter, replay))
            continue
        if limit is not None and len(plan.todo) >= limit:
            continue
        if body.partition >= partitions.get(body.source_topic, 0):
            plan.refused.append((letter, f"{body.source_topic}[{body.partition}] does not exist"))
            continue
        try:
            key, value = body.key_bytes(), body.payload_bytes()
        except ValueError as exc:
            plan.refused.append((letter, f"key or payload not as its encoding says: {exc}"))
            continue
        if cut_size(body) is not None:
            whole = whole_from_source(body, sources.get(body.location))
            if isinstance(whole, str):
                plan.refused.append((letter, whole))
                continue
            value = whole
        plan.todo.append(
            Republish(
                dead_letter=letter.position(dlq_topic),
                source=body.location,
                received_at=body.received_at,
                topic=body.source_topic,
                partition=body.partition,
                key=key,
                value=value,
                forced=replay is not None,
            )
        )
    return plan

"""The Kafka side of ``python -m streams dlq``: reading the dead letters and their sources,
and the ledger of what was replayed.

The ledger is the compacted topic ``{CONSUMER_GROUP}-dlq-replayed`` (one partition). Its key
is a dead letter's DLQ position, ``predictions-dlq[2]@17``; its value a ``Replayed`` record:
when, by whom and to which position the letter was re-published. Compaction keeps the
newest record per letter; a tombstone (null value) forgets a replay.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata, TopicPartition

from streams.cli import CommandError
from streams.cli.dlq_plan import (
    Filters,
    Letter,
    Replayed,
    Republish,
    Stored,
    cut_size,
    newest_replays,
    parse_letters,
)
from streams.cli.kafka_io import admin, ensure_topic, reader
from streams.faust_glue.topic_admin import COMPACTED, TopicSpec
from streams.settings import Settings

#: A read that makes no progress for this long has stalled (the broker answered at start).
STALL_SECONDS: Final = 10.0
#: Letters re-published (and acknowledged) before their ledger records are written.
CHUNK: Final = 100
#: Header on every re-published record: the DLQ position it came back from.
REPLAY_HEADER: Final = "dlq-replay-of"
#: Fetch size, to read records back whole: a source record can be as large as the broker
#: allows, a dead letter 4/3 of 256 KiB plus its message.
FETCH_BYTES: Final = 8 * 1024 * 1024


def ledger_topic(settings: Settings) -> str:
    """An internal topic, so prefixed with the consumer group (cf. Settings.results_topic)."""
    return f"{settings.consumer_group}-dlq-replayed"


def operator() -> str:
    """``user@host`` of whoever runs the command."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no USER/LOGNAME in the environment
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


async def topic_partitions(client: AIOKafkaAdminClient) -> dict[str, int]:
    """Partition counts of every topic (all of them: asking for one may auto-create it)."""
    described = await client.describe_topics()
    return {t["topic"]: len(t["partitions"]) for t in described if t.get("error_code", 0) == 0}


async def read_topic(consumer: AIOKafkaConsumer, topic: str, partitions: int) -> list[Stored]:
    """Every record of ``topic`` up to its end when called."""
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    if not tps:
        return []
    await _assign(consumer, tps)
    firsts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
    for tp in tps:
        consumer.seek(tp, firsts[tp])
    records: list[Stored] = []
    pending = {tp for tp in tps if firsts[tp] < ends[tp]}
    while pending:
        try:
            async with asyncio.timeout(STALL_SECONDS):
                batch = await _next_batch(consumer, pending)
        except TimeoutError:
            raise CommandError(f"kafka: reading {topic} stalled for {STALL_SECONDS:.0f}s") from None
        for tp, messages in batch.items():
            records.extend(
                Stored(tp.partition, m.offset, m.key, m.value)
                for m in messages
                if m.offset < ends[tp]
            )
        pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    return records


async def _assign(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> None:
    """Assign ``tps`` and wait for their first positions: a reset still under way when the
    caller seeks would move the position after the seek."""
    consumer.assign(tps)
    for tp in tps:
        await consumer.position(tp)


async def _next_batch(consumer: AIOKafkaConsumer, tps: set[TopicPartition]) -> dict:
    while True:
        if batch := await consumer.getmany(*tps, timeout_ms=500):
            return batch


async def read_one(
    consumer: AIOKafkaConsumer, topic: str, partition: int, offset: int
) -> Stored | None:
    """The record at ``topic[partition]@offset``; None when it is gone or never was."""
    tp = TopicPartition(topic, partition)
    await _assign(consumer, [tp])
    first = (await consumer.beginning_offsets([tp]))[tp]
    end = (await consumer.end_offsets([tp]))[tp]
    if not first <= offset < end:
        return None
    consumer.seek(tp, offset)
    try:
        async with asyncio.timeout(STALL_SECONDS):
            batch = await _next_batch(consumer, {tp})
    except TimeoutError:
        raise CommandError(f"kafka: reading {topic}[{partition}] stalled") from None
    # The first record at or after ``offset``: another one when compaction removed it.
    m = batch[tp][0]
    return Stored(partition, m.offset, m.key, m.value) if m.offset == offset else None


@dataclass
class Snapshot:
    """What a command read: the letters, the ledger, and the topics' partition counts."""

    letters: list[Letter]
    unreadable: int
    replays: dict[str, Replayed]
    partitions: dict[str, int]
    sources: dict[str, Stored | None] = field(default_factory=dict)


async def read_snapshot(settings: Settings, cut_sources_of: Filters | None = None) -> Snapshot:
    """Read the DLQ and the ledger, and with ``cut_sources_of`` the source records of the
    cut letters it selects. Changes nothing (a missing topic reads as empty)."""
    async with admin(settings) as client:
        partitions = await topic_partitions(client)
    async with reader(settings, max_partition_fetch_bytes=FETCH_BYTES) as consumer:
        dlq = settings.predictions_dlq_topic
        letters, unreadable = parse_letters(await read_topic(consumer, dlq, partitions.get(dlq, 0)))
        name = ledger_topic(settings)
        replays, _ = newest_replays(await read_topic(consumer, name, partitions.get(name, 0)))
        snapshot = Snapshot(letters, unreadable, replays, partitions)
        for letter in letters if cut_sources_of is not None else ():
            body = letter.body
            if not (cut_sources_of.matches(letter) and cut_size(body)):
                continue
            if body.partition < partitions.get(body.source_topic, 0):
                found = await read_one(consumer, body.source_topic, body.partition, body.offset)
            else:
                found = None
            snapshot.sources[body.location] = found
    return snapshot


def ledger_spec(settings: Settings) -> TopicSpec:
    """The ledger as ``streams topics`` creates it: one partition, newest record per key."""
    return TopicSpec(ledger_topic(settings), 1, COMPACTED)


async def ensure_ledger(settings: Settings) -> None:
    await ensure_topic(settings, *ledger_spec(settings))


async def republish(
    settings: Settings,
    client: AIOKafkaProducer,
    todo: Sequence[Republish],
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Replayed]:
    """Send each letter back to its source partition; once a chunk is acknowledged, record
    what went in the ledger (acknowledged too) before the next chunk goes."""
    ledger = ledger_topic(settings)
    by = operator()
    done: list[Replayed] = []
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start : start + CHUNK]
        sent, error = await _send_chunk(client, chunk)
        now = dt.datetime.now(dt.UTC)
        records = [
            Replayed(
                dead_letter=item.dead_letter,
                source=item.source,
                received_at=item.received_at,
                replayed_to=f"{meta.topic}[{meta.partition}]@{meta.offset}",
                replayed_at=now,
                by=by,
                forced=item.forced,
            )
            for item, meta in sent
        ]
        try:
            acks = [
                await client.send(ledger, r.model_dump_json().encode(), key=r.dead_letter.encode())
                for r in records
            ]
            await asyncio.gather(*acks)
        except KafkaError as exc:
            names = f"{records[0].dead_letter} .. {records[-1].dead_letter}" if records else ""
            raise CommandError(
                f"kafka: {len(records)} letters re-published but not recorded in {ledger} "
                f"({exc}): {names}; a new replay would send them again"
            ) from None
        done.extend(records)
        if on_progress is not None:
            on_progress(len(done), len(todo))
        if error is not None:
            raise CommandError(
                f"kafka: re-publishing {error[0].dead_letter} failed ({error[1]}); "
                f"{len(done)} of {len(todo)} letters went, and are in {ledger}"
            )
    return done


async def _send_chunk(
    client: AIOKafkaProducer, chunk: Sequence[Republish]
) -> tuple[list[tuple[Republish, RecordMetadata]], tuple[Republish, Exception] | None]:
    """The letters the broker acknowledged, and the first failure (the rest of the chunk is
    not sent after a failure to enqueue)."""
    queued, error = [], None
    for item in chunk:  # enqueued one by one, in order: the order within a partition holds
        try:
            future = await client.send(
                item.topic,
                item.value,
                key=item.key,
                partition=item.partition,
                headers=[(REPLAY_HEADER, item.dead_letter.encode())],
            )
        except KafkaError as exc:
            error = (item, exc)
            break
        queued.append((item, future))
    results = await asyncio.gather(*(f for _, f in queued), return_exceptions=True)
    sent = []
    for (item, _), result in zip(queued, results, strict=True):
        if isinstance(result, KafkaError):
            error = error or (item, result)
        elif isinstance(result, BaseException):
            raise result
        else:
            sent.append((item, result))
    return sent, error

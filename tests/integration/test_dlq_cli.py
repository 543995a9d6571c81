"""``python -m streams dlq`` against the real broker: list, show, and replay exactly once.

One test runs a real worker so that its dead letters are the worker's own; the others write
dead letters straight to their own DLQ topic, which needs no worker. Each test has its own
topics and consumer group (so its own ledger topic), deleted afterwards.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import pty
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from devstack.worker import REPO, WorkerProcess, settings_env
from schemas import DeadLetter
from streams.faust_glue.topic_admin import ensure_topics
from streams.flow.dead_letters import MAX_DEAD_LETTER_PAYLOAD
from streams.settings import Settings
from tests.harness import collect, produce
from tests.integration.conftest import TrainedRegistry

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

T0 = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str
    seconds: float


async def cli(settings: Settings, *args: str, stdin: int | None = None) -> Ran:
    """``python -m streams ARGS`` with ``settings`` as its environment; stdin is no terminal
    unless given."""
    start = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "streams",
        *args,
        cwd=REPO,
        env={**os.environ, **settings_env(settings), "COLUMNS": "200"},
        stdin=subprocess.DEVNULL if stdin is None else stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode(), time.monotonic() - start)


def ledger_topic(settings: Settings) -> str:
    return f"{settings.consumer_group}-dlq-replayed"


async def write_letters(settings: Settings, letters: Iterable[tuple[int, DeadLetter]]) -> list[str]:
    """Write (DLQ partition, letter) pairs to the DLQ; their IDs as ``list`` prints them."""
    client = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await client.start()
    try:
        ids = []
        for partition, letter in letters:
            meta = await client.send_and_wait(
                settings.predictions_dlq_topic,
                letter.model_dump_json().encode(),
                key=letter.key_bytes(),
                partition=partition,
            )
            ids.append(f"{meta.partition}@{meta.offset}")
        return ids
    finally:
        await client.stop()


def bad(
    settings: Settings,
    source_partition: int,
    source_offset: int,
    key: bytes | None,
    payload: bytes | None,
    reason: str = "schema",
    minutes: int = 0,
    source: str | None = None,
    message: str = "bad input",
) -> DeadLetter:
    return DeadLetter.from_raw(
        source or settings.match_requests_topic,
        source_partition,
        source_offset,
        key,
        payload,
        reason,  # type: ignore[arg-type]  # valid reasons only
        message,
        received_at=T0 + dt.timedelta(minutes=minutes),
    )


async def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]
        return {tp.partition: o for tp, o in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()


async def read_after(
    settings: Settings, topic: str, offsets: dict[int, int]
) -> list[tuple[int, int, bytes | None, bytes | None, dict[str, bytes]]]:
    """(partition, offset, key, value, headers) of the records past ``offsets``, to the end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in offsets]
        consumer.assign(tps)
        for tp in tps:
            await consumer.position(tp)
            consumer.seek(tp, offsets[tp.partition])
        ends = await consumer.end_offsets(tps)
        out = []
        async with asyncio.timeout(30):
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                for tp, messages in (await consumer.getmany(timeout_ms=300)).items():
                    out += [
                        (tp.partition, m.offset, m.key, m.value, dict(m.headers)) for m in messages
                    ]
        return sorted(out, key=lambda r: (r[0], r[1]))
    finally:
        await consumer.stop()


async def topic_exists(settings: Settings, name: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        return name in await admin.list_topics()
    finally:
        await admin.close()


def lines_of(out: str) -> list[str]:
    return [line for line in out.splitlines() if line]


async def test_a_real_workers_dead_letters_are_listed_shown_and_replayed_whole(
    worker: WorkerProcess, worker_settings: Settings, trained_registry: TrainedRegistry
) -> None:
    settings = worker_settings
    known = trained_registry.match_ids()[-3]
    huge = b"[" + b"7," * (MAX_DEAD_LETTER_PAYLOAD // 2 + 1000)  # invalid JSON, and too big
    inputs = [
        (known.encode(), b"{not json"),
        (known.encode(), json.dumps({"request_id": "r", "match_id": known, "neutral": 1}).encode()),
        (known.encode(), b'{"request_id": "\xff\xfe", "match_id": "x"}'),
        (b"big", huge),
    ]
    await produce(settings, settings.match_requests_topic, inputs)
    letters = await collect(
        settings, settings.predictions_dlq_topic, lambda rs: len(rs) >= 4, timeout=60
    )
    assert len(letters) == 4

    listed = await cli(settings, "dlq", "list")
    assert listed.code == 0, listed.err
    rows = lines_of(listed.out)
    assert rows[-1] == f"4 dead letters match, of 4 in {settings.predictions_dlq_topic}"
    assert sorted(r.split()[3] for r in rows[:-1]) == sorted(
        ["invalid_json", "schema", "invalid_json", "invalid_json"]
    )
    ids = {r.split()[2]: r.split()[0] for r in rows[:-1]}  # source position -> ID

    by_key = {letter["key"]: letter for letter in letters}
    cut = by_key["big"]
    cut_at = f"{cut['source_topic']}[{cut['partition']}]@{cut['offset']}"
    shown = await cli(settings, "dlq", "show", ids[cut_at])
    assert shown.code == 0, shown.err
    doc = json.loads(shown.out)
    assert doc["payload_cut"] == {
        "kept_bytes": MAX_DEAD_LETTER_PAYLOAD,
        "original_bytes": len(huge),
    }
    assert doc["source_topic"] == settings.match_requests_topic and doc["replayed"] is None

    # Replay every one: the worker's note says the big one was cut, so it is read whole from
    # its source position; the others come back from the letters themselves.
    before = await end_offsets(settings, settings.match_requests_topic)
    replay = await cli(settings, "dlq", "replay", "--ids", *ids.values(), "--yes")
    assert replay.code == 0, replay.err
    assert replay.out.strip() == f"replayed 4 dead letters to {settings.match_requests_topic} (4)"
    assert "[dlq] re-published 4/4" in replay.err
    back = await read_after(settings, settings.match_requests_topic, before)
    sources = {(letter["partition"], letter["key"].encode()) for letter in letters}
    assert sorted((k, v) for _, _, k, v, _ in back) == sorted(inputs)
    assert {(p, k) for p, _, k, _, _ in back} == sources  # each on its original partition

    # The worker reads them again, and dead-letters them again: new letters, new IDs.
    again = await collect(
        settings, settings.predictions_dlq_topic, lambda rs: len(rs) >= 8, timeout=60
    )
    assert len(again) == 8
    second = await cli(settings, "dlq", "replay", "--ids", *ids.values(), "--yes")
    assert second.code == 0, second.err
    assert second.out.strip() == (
        "replayed 0 dead letters; skipped 4 replayed before (--force sends them again)"
    )
    assert await end_offsets(settings, settings.match_requests_topic) == {
        p: before[p] + sum(1 for r in back if r[0] == p) for p in before
    }


@pytest.fixture
def dlq_settings(isolated_settings: Settings) -> Settings:
    asyncio.run(ensure_topics(isolated_settings))
    return isolated_settings


async def test_list_filters_by_reason_source_and_time(dlq_settings: Settings) -> None:
    s = dlq_settings
    ids = await write_letters(
        s,
        [
            (0, bad(s, 0, 10, b"a", b"{}", "schema", minutes=0)),
            (1, bad(s, 1, 11, b"b", b"x", "invalid_json", minutes=10, source=s.livescores_topic)),
            (2, bad(s, 2, 12, b"c", b"{}", "unknown_match", minutes=20, message="no such " * 40)),
            (0, bad(s, 3, 13, b"d", b"{}", "schema", minutes=30, source=s.livescores_topic)),
        ],
    )

    filters: dict[str, list[str]] = {
        "all": [],
        "schema": ["--reason", "schema"],
        "two reasons": ["--reason", "schema", "unknown_match"],
        "source": ["--source", s.livescores_topic],
        "since": ["--since", "2026-11-30T12:10:00Z"],  # inclusive
        "until": ["--until", "2026-11-30T13:10+01:00"],  # exclusive; 12:10 UTC
        "limit": ["--reason", "schema", "unknown_match", "--limit", "2"],
        "nothing": ["--source", "nowhere"],
    }
    runs = [await cli(s, "dlq", "list", *args) for args in filters.values()]  # 2 cores: in turn
    assert all(ran.code == 0 for ran in runs), [ran.err for ran in runs]
    rows = {name: lines_of(ran.out) for name, ran in zip(filters, runs, strict=True)}
    listed = {name: [row.split()[0] for row in lines[:-1]] for name, lines in rows.items()}
    assert listed == {
        "all": ids,
        "schema": [ids[0], ids[3]],
        "two reasons": [ids[0], ids[2], ids[3]],
        "source": [ids[1], ids[3]],
        "since": ids[1:],
        "until": ids[:1],
        "limit": [ids[0], ids[2]],
        "nothing": [],
    }
    assert rows["all"][-1] == f"4 dead letters match, of 4 in {s.predictions_dlq_topic}"
    dlq = s.predictions_dlq_topic
    assert rows["limit"][-1] == f"3 dead letters match, of 4 in {dlq}; showing the oldest 2"
    assert rows["nothing"] == [f"0 dead letters match, of 4 in {s.predictions_dlq_topic}"]

    row = rows["two reasons"][1]
    assert row.split()[:4] == [
        ids[2],
        "2026-11-30T12:20:00Z",
        f"{s.match_requests_topic}[2]@12",
        "unknown_match",
    ]
    assert len(row) == 200 and row.endswith("…")  # the message is cut to the terminal's width


async def test_show_prints_the_whole_letter_and_bad_ids_are_one_line(
    dlq_settings: Settings,
) -> None:
    s = dlq_settings
    binary = b'{"request_id": "\xff"}'
    [text_id, binary_id] = await write_letters(
        s, [(1, bad(s, 2, 5, b"m1", b'{"match_id": "m1"}')), (1, bad(s, 3, 6, None, binary))]
    )
    ran = await cli(s, "dlq", "show", text_id)
    assert ran.code == 0, ran.err
    doc = json.loads(ran.out)
    assert doc["id"] == text_id and doc["payload"] == {"match_id": "m1"}
    assert doc["dead_letter"] == f"{s.predictions_dlq_topic}[{text_id.replace('@', ']@')}"
    assert (doc["source_topic"], doc["partition"], doc["offset"]) == (s.match_requests_topic, 2, 5)
    full = await cli(s, "dlq", "show", f"{s.predictions_dlq_topic}[{binary_id.replace('@', ']@')}")
    assert full.code == 0, full.err
    shown = json.loads(full.out)
    assert shown["payload_encoding"] == "base64" and shown["key"] is None
    assert shown["payload"] == '{"request_id": "\\xff"}'

    errors = {
        "bad ID": (["show", "1-0"], "not a dead letter ID"),
        "no such letter": (["show", "1@99"], f"no dead letter at {s.predictions_dlq_topic}[1]@99"),
        "another topic": (["show", "other-dlq[1]@0"], f"is not in {s.predictions_dlq_topic}"),
        "one ID missing": (["replay", "--ids", "1@0", "3@7", "--yes"], "no dead letter at 3@7"),
        "bad date": (["replay", "--until", "2026-02-30", "--yes"], "not an ISO date or time"),
    }
    runs = [await cli(s, "dlq", *args) for args, _ in errors.values()]
    for (name, (_, says)), ran in zip(errors.items(), runs, strict=True):
        assert ran.code == 2 and ran.out == "", (name, ran)
        assert ran.err.startswith("error: ") and says in ran.err, (name, ran)
        assert ran.err.count("\n") == 1, (name, ran)
    assert sum((await end_offsets(s, s.match_requests_topic)).values()) == 0


async def test_dry_run_and_no_terminal_change_nothing(dlq_settings: Settings) -> None:
    s = dlq_settings
    await write_letters(s, [(0, bad(s, 1, 3, b"k", b"{}")), (1, bad(s, 2, 4, b"k2", b"[]"))])
    dlq_before = await end_offsets(s, s.predictions_dlq_topic)

    dry = await cli(s, "dlq", "replay", "--all", "--dry-run")
    assert dry.code == 0, dry.err
    rows = lines_of(dry.out)
    assert [row.split()[0] for row in rows[:-1]] == ["replay", "replay"]
    assert rows[-1] == f"dry run: would replay 2 dead letters to {s.match_requests_topic} (2)"

    unasked = await cli(s, "dlq", "replay", "--all")  # stdin is not a terminal
    assert unasked.code == 2 and unasked.out == ""
    assert unasked.err == (
        "error: not replaying 2 dead letters unconfirmed: pass --yes (stdin is no terminal "
        "to ask on), or --dry-run to see them\n"
    )

    assert await end_offsets(s, s.match_requests_topic) == dict.fromkeys(range(4), 0)
    assert await end_offsets(s, s.predictions_dlq_topic) == dlq_before
    assert not await topic_exists(s, ledger_topic(s)), "not even the ledger topic is made"


async def test_a_terminal_is_asked_and_only_yes_replays(dlq_settings: Settings) -> None:
    s = dlq_settings
    [letter] = await write_letters(s, [(0, bad(s, 1, 3, b"k", b"{}"))])
    for answer, code, published in ((b"n\n", 1, 0), (b"y\n", 0, 1)):
        controller, terminal = pty.openpty()
        try:
            os.write(controller, answer)  # waits in the terminal's input until read
            ran = await cli(s, "dlq", "replay", "--ids", letter, stdin=terminal)
        finally:
            os.close(terminal)
            os.close(controller)
        assert ran.code == code, ran
        assert f"replay 1 dead letter to {s.match_requests_topic} (1)? [y/N]" in ran.err
        assert lines_of(ran.out)[0].startswith(f"replay  {letter}")
        assert sum((await end_offsets(s, s.match_requests_topic)).values()) == published


async def test_replay_sends_exact_bytes_once_and_force_sends_again(
    dlq_settings: Settings,
) -> None:
    s = dlq_settings
    originals = [
        (2, b"m1", b'{"match_id": "m1", "neutral": "yes"}'),
        (0, None, b'{"match_id": "no key"}'),
        (3, b"\x00\xffkey", b"\xff\xfe not utf-8"),
        (1, b"m4", None),  # a tombstone
    ]
    letters = [bad(s, p, 100 + i, k, v, minutes=i) for i, (p, k, v) in enumerate(originals)]
    ids = await write_letters(s, [(i % 2, letter) for i, letter in enumerate(letters)])
    await write_letters(s, [(0, bad(s, 0, 999, b"other", b"{}", "unknown_match"))])
    start = await end_offsets(s, s.match_requests_topic)

    ran = await cli(s, "dlq", "replay", "--reason", "schema", "--yes")
    assert ran.code == 0, ran.err
    assert ran.out == f"replayed 4 dead letters to {s.match_requests_topic} (4)\n"
    back = await read_after(s, s.match_requests_topic, start)
    assert [(p, k, v) for p, _, k, v, _ in back] == sorted(originals, key=lambda o: o[0])
    positions = {f"{s.predictions_dlq_topic}[{i.replace('@', ']@')}" for i in ids}
    assert {r[4]["dlq-replay-of"].decode() for r in back} == positions

    ledger = await collect(s, ledger_topic(s), lambda rs: len(rs) >= 4, timeout=20)
    assert {r["dead_letter"] for r in ledger} == positions
    assert {r["replayed_to"] for r in ledger} == {
        f"{s.match_requests_topic}[{p}]@{o}" for p, o, *_ in back
    }
    assert all(r["by"].count("@") == 1 and r["forced"] is False for r in ledger)

    after_first = await end_offsets(s, s.match_requests_topic)
    again = await cli(s, "dlq", "replay", "--reason", "schema", "--yes")
    assert again.code == 0, again.err
    assert again.out == (
        "replayed 0 dead letters; skipped 4 replayed before (--force sends them again)\n"
    )
    assert again.err.count("skip    ") == 4
    assert await end_offsets(s, s.match_requests_topic) == after_first

    forced = await cli(s, "dlq", "replay", "--ids", ids[0], ids[2], "--force", "--yes")
    assert forced.code == 0, forced.err
    resent = await read_after(s, s.match_requests_topic, after_first)
    assert sorted((p, k, v) for p, _, k, v, _ in resent) == sorted([originals[0], originals[2]])
    shown = json.loads((await cli(s, "dlq", "show", ids[0])).out)
    assert shown["replayed"]["forced"] is True
    assert shown["replayed"]["replayed_to"] in {
        f"{s.match_requests_topic}[{p}]@{o}" for p, o, *_ in resent
    }


async def test_a_cut_letter_whose_source_is_gone_is_refused(dlq_settings: Settings) -> None:
    s = dlq_settings
    note = (
        f"[payload cut to its first 10 of 20 bytes; the whole record is at "
        f"{s.match_requests_topic}[1]@50] Invalid JSON"
    )
    cut = bad(s, 1, 50, b"k", b"0123456789", "invalid_json", message=note)
    whole = bad(s, 1, 51, b"k", b"{}", "invalid_json", minutes=1)
    [cut_id, whole_id] = await write_letters(s, [(0, cut), (0, whole)])

    ran = await cli(s, "dlq", "replay", "--reason", "invalid_json", "--yes")
    assert ran.code == 1
    assert ran.out == f"replayed 1 dead letter to {s.match_requests_topic} (1); refused 1\n"
    assert (
        f"refuse  {cut_id}: payload cut to 10 of 20 bytes, and "
        f"{s.match_requests_topic}[1]@50 is gone"
    ) in ran.err
    assert ran.err.strip().endswith("error: refused 1 dead letter (see the refuse lines)")
    back = await read_after(s, s.match_requests_topic, dict.fromkeys(range(4), 0))
    assert [(p, k, v) for p, _, k, v, _ in back] == [(1, b"k", b"{}")]
    assert whole_id != cut_id


async def test_kafka_unreachable_is_one_line_within_seconds(dlq_settings: Settings) -> None:
    down = Settings(**{**dlq_settings.model_dump(), "kafka_bootstrap_servers": "127.0.0.1:1"})
    for args in (["list"], ["show", "0@0"], ["replay", "--all", "--yes"]):
        ran = await cli(down, "dlq", *args)
        assert ran.code == 1 and ran.out == "", ran
        assert ran.err == (
            "error: kafka: no answer from 127.0.0.1:1 within 5s "
            "(start it with: python -m streams stack up)\n"
        )
        assert ran.seconds < 30, f"{args}: {ran.seconds:.1f}s (the imports take a few)"

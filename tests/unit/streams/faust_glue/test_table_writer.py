"""A table writer writes the store at once and keeps each write's changelog record for the
caller's batch to produce."""

from __future__ import annotations

import faust

from streams.faust_glue.table_writer import TableWriter, match_table_writer
from streams.sinks.memory import InMemorySender


def writer(store: dict[str, bytes] | None = None) -> tuple[TableWriter[str], InMemorySender]:
    sent = InMemorySender()
    partition = {"m1": 4, "m2": 1}.get
    return TableWriter({} if store is None else store, sent, str.encode, partition), sent


def test_a_write_hits_the_store_at_once_and_its_record_waits_for_take() -> None:
    made, sent = writer()
    made["m1"] = b"one"
    made["m2"] = b"two"
    made["m1"] = b"three"
    assert (made.get("m1"), made["m2"], made.get("m3")) == (b"three", b"two", None)
    assert sorted(made.keys()) == ["m1", "m2"] and made.pending == 3
    records = made.take()
    assert [(r.key, r.value, r.partition, r.headers) for r in records] == [
        (b"m1", b"one", 4, None),
        (b"m2", b"two", 1, None),
        (b"m1", b"three", 4, None),
    ]
    assert all(r.send is sent for r in records)
    assert sent.records == [], "nothing is produced until the caller sends the records"
    assert made.take() == [] and made.pending == 0


def test_pop_writes_a_tombstone_and_a_missing_key_writes_nothing() -> None:
    made, _ = writer({"m1": b"held"})
    assert made.pop("m1") == b"held"
    assert made.get("m1") is None
    assert [(r.key, r.value, r.partition) for r in made.take()] == [(b"m1", None, 4)]
    assert made.pop("m1", b"default") == b"default"
    assert made.pop("never") is None
    assert made.take() == []


async def test_a_record_is_sent_where_it_says() -> None:
    made, sent = writer()
    made["m2"] = b"v"
    made.pop("m2")
    for r in made.take():
        await (await r.send(r.key, r.value, r.headers, r.partition))
    assert sent.records == [(b"m2", b"v"), (b"m2", None)] and sent.partitions == [1, 1]


def test_the_match_table_writer_keys_by_the_raw_match_id() -> None:
    app = faust.App("test-table-writer", store="memory://")
    table = app.Table("states", default=None, key_type=str, value_type=bytes, partitions=6)
    made = match_table_writer(app, table)
    made["m1"] = b"v"
    assert table.data["m1"] == b"v"
    # The raw id is the key, and the partitioner picks by it, as for the inputs.
    assert [(r.key, r.partition) for r in made.take()] == [(b"m1", None)]

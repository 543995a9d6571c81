"""A match-keyed table's store lists each match's keys, and its keys go to the changelog
as compact JSON arrays."""

from __future__ import annotations

import json

import faust
import pytest
from aiokafka.partitioner import DefaultPartitioner

from streams.faust_glue.match_keyed import MatchKeyed, key_bytes, match_keyed_table

A1, A2, A3 = ("a", 1, "livescore"), ("a", 2, "livescore"), ("a", None, "request")
B1 = ("b", 1, "livescore")


def test_keys_are_listed_per_match_in_first_write_order() -> None:
    store = MatchKeyed()
    for key in (A2, B1, A1, A3):
        store[key] = repr(key).encode()
    store[A2] = b"rewritten"  # a rewrite keeps its place
    assert store.keys_of("a") == [A2, A1, A3]
    assert store.keys_of("b") == [B1] and store.keys_of("c") == []
    assert store.match_ids() == ["b", "a"], "a was written last"
    assert (store[A2], len(store), A1 in store, ("c", 1) in store) == (b"rewritten", 4, True, False)
    assert list(store) == [A2, B1, A1, A3]


def test_matches_are_listed_least_recently_written_first() -> None:
    store = MatchKeyed(order=lambda key: -1 if key[1] is None else key[1])
    for key in (A1, B1, ("c", 1, "livescore")):
        store[key] = b"v"
    assert store.match_ids() == ["a", "b", "c"] and store.match_count() == 3
    store[A1] = b"rewritten"  # the same output read again: a is not written anew
    assert store.match_ids() == ["a", "b", "c"]
    store[A3] = b"v"  # a new output of a: a is the newest match
    assert store.match_ids() == ["b", "c", "a"]
    assert store.last_in_order("a") == A1, "by order: the request (None) sorts first"
    assert store.last_in_order("x") is None
    del store[B1]
    assert store.match_ids() == ["c", "a"] and store.match_count() == 2


def test_deletes_clean_up_the_listing() -> None:
    store = MatchKeyed()
    for key in (A1, A2, B1):
        store[key] = b"v"
    del store[A1]
    assert store.keys_of("a") == [A2]
    del store[A2]
    assert store.keys_of("a") == [] and store.match_ids() == ["b"], "no match without keys"
    assert store.pop(B1) == b"v" and store.match_ids() == []
    with pytest.raises(KeyError):
        del store[A1]
    store[A1] = b"again"
    assert store.keys_of("a") == [A1], "written again after a delete: listed again"


def test_keys_are_kept_in_the_order_given_then_first_write_first() -> None:
    store = MatchKeyed(order=lambda key: -1 if key[1] is None else key[1])
    for key in (A2, B1, A1, A3, ("a", 1, "request")):
        store[key] = b"v"
    # A3 (None: -1) first, then seq 1 in write order (A1, then the request), then seq 2.
    assert store.keys_of("a") == [A3, A1, ("a", 1, "request"), A2]
    del store[A1]
    assert store.keys_of("a") == [A3, ("a", 1, "request"), A2]
    store[A1] = b"again"  # written again: after what is already at its seq
    assert store.keys_of("a") == [A3, ("a", 1, "request"), A1, A2]
    assert store.count("a") == 4 and store.count("c") == 0


def test_after_lists_the_keys_that_follow_one_in_its_match() -> None:
    store = MatchKeyed(order=lambda key: -1 if key[1] is None else key[1])
    for key in (A2, B1, A1, A3):
        store[key] = b"v"
    assert store.after(A3) == [A1, A2]
    assert store.after(A1) == [A2]
    assert store.after(A2) == [] and store.after(B1) == [], "the newest: nothing after it"
    assert store.after(("a", 9, "livescore")) == [], "a key not in the table"
    del store[A1]
    assert store.after(A3) == [A2]


def test_clear_empties_values_and_listing() -> None:
    store = MatchKeyed()
    store[A1], store[B1] = b"1", b"2"
    store.clear()
    assert len(store) == 0 and store.match_ids() == [] and store.keys_of("a") == []


@pytest.mark.parametrize("key", [A1, A3, ("m-1", 7, "request", "r 1", "3", "challenger", "60+")])
def test_key_bytes_are_compact_json_of_the_keys_items(key: tuple[object, ...]) -> None:
    encoded = key_bytes(key)
    assert json.loads(encoded) == list(key)
    assert b", " not in encoded and b": " not in encoded
    assert key_bytes(tuple(json.loads(encoded))) == encoded, "one key, always the same bytes"


def test_key_bytes_by_hand() -> None:
    assert key_bytes(("m1", None, "pre")) == b'["m1",null,"pre"]'


def test_the_apps_table_lists_its_writes_and_sends_them_to_the_matchs_partition() -> None:
    app = faust.App("test-match-keyed", store="memory://")
    writer, listing = match_keyed_table(app, "outputs", partitions=6, order=lambda key: 0)
    writer[A1] = b"1"
    writer[B1] = b"2"
    assert listing.keys_of("a") == [A1] and writer.get(A1) == b"1"
    records = writer.take()
    assert [r.key for r in records] == [key_bytes(A1), key_bytes(B1)]
    # The partition of the match id alone, by the producer's default partitioner (murmur2,
    # as Kafka's Java client): the same partition as the match's input events.
    by_kafka = DefaultPartitioner()
    assert [r.partition for r in records] == [
        by_kafka(b"a", list(range(6)), []),
        by_kafka(b"b", list(range(6)), []),
    ]
    table = app.tables["outputs"]
    assert table.partition_for_key(A1) == records[0].partition

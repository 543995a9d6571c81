"""A table's values decoded once per change, afresh when replaced behind its back."""

from __future__ import annotations

from pydantic import BaseModel

from streams.faust_glue.decoded import DecodedTable


class Value(BaseModel):
    n: int


def table() -> tuple[DecodedTable[str, Value], dict[str, bytes], list[bytes]]:
    store: dict[str, bytes] = {}
    decoded: list[bytes] = []

    def decode(raw: bytes) -> Value:
        decoded.append(raw)
        return Value.model_validate_json(raw)

    return DecodedTable(store, decode), store, decoded


def test_a_value_is_decoded_once_per_change() -> None:
    made, store, decodes = table()
    store["a"] = b'{"n": 1}'
    assert [made.get("a") for _ in range(3)] == [Value(n=1)] * 3
    assert decodes == [b'{"n": 1}']
    assert made.get("missing") is None and len(decodes) == 1


def test_a_put_is_held_decoded_and_written_as_json() -> None:
    made, store, decodes = table()
    value = Value(n=2)
    made.put("a", value)
    assert store["a"] == b'{"n":2}'
    assert made.get("a") is value and decodes == []


def test_a_value_replaced_behind_its_back_is_decoded_afresh() -> None:
    made, store, decodes = table()
    made.put("a", Value(n=2))
    # Recovery from the changelog puts an equal value as a new bytes object.
    store["a"] = bytes(bytearray(store["a"]))
    assert made.get("a") == Value(n=2) and len(decodes) == 1
    store["a"] = b'{"n": 3}'
    assert made.get("a") == Value(n=3) and len(decodes) == 2
    assert made.get("a") == Value(n=3) and len(decodes) == 2


def test_delete_and_keys() -> None:
    made, store, _ = table()
    made.put("a", Value(n=1))
    made.put("b", Value(n=2))
    keys = made.keys()
    made.delete("a")  # a snapshot of the keys: deleting while iterating is safe
    assert list(keys) == ["a", "b"] and list(made.keys()) == ["b"]
    assert "a" not in store and made.get("a") is None
    made.delete("never")  # nothing to delete: no error


def test_prune_drops_the_stale_entries_only() -> None:
    made, store, decodes = table()
    for key, n in (("kept", 1), ("deleted", 2), ("replaced", 3)):
        made.put(key, Value(n=n))
    del store["deleted"]  # a partition moved to another worker
    store["replaced"] = b'{"n": 4}'
    made.prune()
    # What it holds decoded is private; it is what prune bounds.
    assert set(made._decoded) == {"kept"}
    assert made.get("kept") == Value(n=1) and decodes == [], "the kept one still held"
    assert made.get("replaced") == Value(n=4) and made.get("deleted") is None


def test_a_peek_decodes_what_is_not_held_without_keeping_it() -> None:
    made, store, decodes = table()
    store["a"] = b'{"n": 3}'
    assert made.peek("a") == Value(n=3) and made.peek("a") == Value(n=3)
    assert len(decodes) == 2, "not kept: decoded at each peek"
    assert made.get("a") == Value(n=3) and len(decodes) == 3
    assert made.peek("a") == Value(n=3) and len(decodes) == 3, "held: not decoded again"
    assert made.peek("missing") is None

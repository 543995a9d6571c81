"""A table's store lists its keys least recently written first, however they were written:
by the worker, or applied from the changelog in recovery."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import faust
import pytest

from streams.faust_glue.recency import RecentlyWritten, recently_written


def test_a_write_moves_its_key_to_the_end() -> None:
    store: RecentlyWritten[str, bytes] = RecentlyWritten()
    for key in ("a", "b", "c"):
        store[key] = b"1"
    store["a"] = b"2"  # rewritten: now the most recent
    assert list(store) == ["b", "c", "a"]
    assert (store["a"], store.get("a"), store.get("x"), store.get("x", b"-")) == (
        b"2",
        b"2",
        None,
        b"-",
    )
    assert len(store) == 3 and "b" in store and "x" not in store
    del store["b"]
    assert list(store) == ["c", "a"]
    assert store.pop("c") == b"1" and list(store) == ["a"]
    with pytest.raises(KeyError):
        del store["b"]
    store.clear()
    assert list(store) == []


def changelog_event(key: str, value: bytes | None, partition: int) -> Any:
    """A changelog record as Faust's recovery hands it to a store."""
    return SimpleNamespace(
        key=key, value=value, message=SimpleNamespace(value=value, partition=partition)
    )


def test_a_faust_table_recovers_into_it_in_changelog_order() -> None:
    app = faust.App("recency-test", store="memory://", autodiscover=False)
    table = recently_written(app.Table("t", default=None, key_type=str, value_type=bytes))
    store = table.data
    assert isinstance(store.data, RecentlyWritten)
    store["local"] = b"0"  # written by the worker before the recovery
    batch = [
        changelog_event("m1", b"1", 0),
        changelog_event("m2", b"1", 0),
        changelog_event("m1", b"2", 0),  # a later record of m1: m1 is now the newest
        changelog_event("m3", b"1", 1),
        changelog_event("m2", None, 0),  # a tombstone
    ]
    store.apply_changelog_batch(batch, to_key=lambda k: k, to_value=lambda v: v)
    assert list(store.keys()) == ["local", "m1", "m3"]
    assert store["m1"] == b"2"


def test_it_must_be_installed_before_the_table_holds_anything() -> None:
    app = faust.App("recency-test-2", store="memory://", autodiscover=False)
    table = app.Table("t", default=None, key_type=str, value_type=bytes)
    table.data["m1"] = b"1"
    with pytest.raises(ValueError, match="already holds"):
        recently_written(table)

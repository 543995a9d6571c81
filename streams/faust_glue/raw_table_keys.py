"""A table whose changelog keys are the raw key bytes, as the inputs' keys are.

Faust serialises a table's keys by its ``key_type``, and a ``str`` key is JSON: ``m5`` goes
to the changelog as ``"m5"``, quotes included. With ``use_partitioner`` the changelog
partition is the hash of those bytes, so for most matches it was not the partition of the
match's events: the worker that wrote a match's memory (the owner of its events) was not
the one that recovered it after a rebalance, and Faust's router (``app.router.key_store``,
hashing the same bytes) pointed at a worker whose copy of it was stale.

With raw keys the changelog key is the Kafka key of the match's events, so its partition is
theirs. Records written before, keyed ``"m5"``, are read back as the key ``"m5"`` with the
quotes: no match looks them up, and the memory janitor forgets them after their TTL.
"""

from __future__ import annotations

from faust.types import CollectionT


def raw_keys(table: CollectionT) -> CollectionT:
    """Make ``table``'s changelog carry its ``str`` keys as raw UTF-8 (call right after
    ``app.Table``: the changelog topic Faust made already is replaced by a raw-keyed one
    of the same name, before anything has sent to or read from it)."""
    table.key_serializer = "raw"  # read back as str: Faust decodes raw bytes for key_type str
    # Faust's own factory, so every other option of the topic stays Faust's default.
    table.changelog_topic = table._new_changelog_topic()  # type: ignore[attr-defined]  # not on CollectionT
    return table

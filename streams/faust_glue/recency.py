"""A table's store that lists its keys least recently written first.

The memory janitor (``streams.flow.memory_janitor``) bounds how many matches a table
holds; past the bound it forgets the matches written longest ago. Finding those must not
sort the table by a time read out of every value, so the store keeps the order itself:
:class:`RecentlyWritten` is the memory store's dict, and a write moves its key to the end.
Every way Faust changes the store goes through it (a local write, a changelog record
applied in recovery or as a standby), so after a restart the order is the changelogs'
order as recovered: by partition, then as written.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, MutableMapping
from typing import Any, Generic, TypeVar

import faust

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RecentlyWritten(MutableMapping[K, V], Generic[K, V]):
    """A dict whose keys iterate least recently written first."""

    def __init__(self) -> None:
        self._values: dict[K, V] = {}

    def __getitem__(self, key: K) -> V:
        return self._values[key]

    def get(self, key: K, default: Any = None) -> Any:
        # The mixin's get raises and catches KeyError on a miss: most reads of a new match.
        return self._values.get(key, default)

    def __setitem__(self, key: K, value: V) -> None:
        # A dict keeps insertion order, and a rewrite keeps its place: take it out first.
        self._values.pop(key, None)
        self._values[key] = value

    def __delitem__(self, key: K) -> None:
        del self._values[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def clear(self) -> None:
        self._values.clear()


def recently_written(table: faust.TableT) -> faust.TableT:
    """Make ``table``'s memory store a :class:`RecentlyWritten` (call before it holds
    anything: right after ``app.Table``)."""
    store = table.data
    if len(store):
        raise ValueError(f"{table.name} already holds keys")
    store.data = RecentlyWritten()  # type: ignore[attr-defined]  # memory store internals
    return table

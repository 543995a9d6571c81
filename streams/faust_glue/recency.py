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

from collections import OrderedDict
from collections.abc import Hashable
from typing import TypeVar

import faust

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RecentlyWritten(OrderedDict[K, V]):
    """A dict whose keys iterate least recently written first. Only a write is Python
    code: reads stay the C dict's, and they are most of what the champion's path does."""

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)


def recently_written(table: faust.TableT) -> faust.TableT:
    """Make ``table``'s memory store a :class:`RecentlyWritten` (call before it holds
    anything: right after ``app.Table``)."""
    store = table.data
    if len(store):
        raise ValueError(f"{table.name} already holds keys")
    store.data = RecentlyWritten()  # type: ignore[attr-defined]  # memory store internals
    return table

"""Table values decoded once per change: the bytes a table holds, and their models beside.

A Faust table of bytes (what its changelog carries) is read far more often than written.
:class:`DecodedTable` keeps the model decoded from each value, keyed by the very bytes
object it came from, so a value is decoded once per change, not at every read. A value the
table got another way (recovery from the changelog after a rebalance) is a different
object and is decoded afresh. The models it returns are shared: read them, and change a
value only through :meth:`DecodedTable.put`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

K = TypeVar("K", bound=Hashable)
M = TypeVar("M", bound=BaseModel)


class BytesStore(Protocol[K]):
    """What :class:`DecodedTable` needs of a table: ``TableWriter``, or a dict in tests."""

    def get(self, key: K) -> bytes | None: ...

    def __setitem__(self, key: K, value: bytes) -> None: ...

    def pop(self, key: K, default: Any = None) -> bytes | None: ...

    def keys(self) -> Any: ...


class DecodedTable(Generic[K, M]):
    """``table``'s values as models of one type (see the module docs)."""

    def __init__(self, table: BytesStore[K], decode: Callable[[bytes], M]) -> None:
        self.table = table
        self._decode = decode
        self._decoded: dict[K, tuple[bytes, M]] = {}

    def get(self, key: K) -> M | None:
        stored = self.table.get(key)
        if stored is None:
            return None
        held = self._decoded.get(key)
        if held is not None and held[0] is stored:
            return held[1]
        value = self._decode(stored)
        self._decoded[key] = (stored, value)
        return value

    def peek(self, key: K) -> M | None:
        """Like :meth:`get`, but a value decoded afresh is not kept: for a look at every
        key (the memory janitor's sweep), which would otherwise keep a model per key."""
        held = self._decoded.get(key)
        stored = self.table.get(key)
        if stored is None:
            return None
        if held is not None and held[0] is stored:
            return held[1]
        return self._decode(stored)

    def put(self, key: K, value: M) -> None:
        """Write ``value`` (one changelog record)."""
        stored = value.model_dump_json().encode()
        self.table[key] = stored
        self._decoded[key] = (stored, value)

    def delete(self, key: K) -> None:
        self.table.pop(key, None)
        self._decoded.pop(key, None)

    def keys(self) -> Iterator[K]:
        """A snapshot of the keys (safe to delete while iterating)."""
        return iter(list(self.table.keys()))

    def prune(self) -> None:
        """Drop decoded values the table no longer holds as they were (a key deleted, or
        its partition moved to another worker and the value changed)."""
        for key, (stored, _) in list(self._decoded.items()):
            if self.table.get(key) is not stored:
                del self._decoded[key]

"""The one rule for "newest wins" per key: a higher rank replaces, and so does an equal one.

Used wherever late or repeated records must not move a value back: a match's state (rank:
``seq``) and its latest prediction in Redis (rank: ``seq``, -1 before kick-off). Ties go to
the later record, so a request answer replaces the livescore answer for the same state.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, MutableMapping
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def seq_rank(seq: int | None) -> int:
    """The rank of a prediction of the state ``seq``: -1 before kick-off (no state yet)."""
    return -1 if seq is None else seq


def outranks(rank: int, held: int | None) -> bool:
    """Whether a value of ``rank`` replaces a held one of rank ``held`` (None: nothing held)."""
    return held is None or rank >= held


def keep_newest(
    held: MutableMapping[K, V],
    values: Iterable[V],
    key: Callable[[V], K],
    rank: Callable[[V], int],
    limit: int | None = None,
) -> int:
    """Put each of ``values`` into ``held`` unless a higher-ranked one is there for its key.

    With ``limit``, a value for a new key is dropped while ``held`` has ``limit`` keys;
    returns how many were dropped that way.
    """
    dropped = 0
    for value in values:
        k = key(value)
        current = held.get(k)
        if current is None and limit is not None and len(held) >= limit:
            dropped += 1
        elif outranks(rank(value), None if current is None else rank(current)):
            held[k] = value
    return dropped

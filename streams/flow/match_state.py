"""What the service remembers of each match, in the changelog-backed table ``match_to_state``.

The newest livescore (a request during a match is answered for the current score and
minute) and the forecasts to score when the match finishes
(:class:`schemas.MatchMemory`). The table is keyed by ``match_id`` like the inputs, so the
worker that owns a match owns its memory. A batch reads each of its matches once and
writes each one once: one changelog record per match per batch, however many events of it
the batch holds.

Both agents write a match's memory (the livescores agent its state and forecasts, the
requests agent the answers' forecasts), and a batch awaits between reading and writing.
So a batch never writes back what it read: :meth:`MatchMemories.update` applies the
batch's changes to the memory as it is now, in one step with no await, and neither agent
can undo the other's write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, MutableMapping

from schemas import Livescore, MatchMemory
from streams.newest import keep_newest, outranks


def _match_id(event: Livescore) -> str:
    return event.match_id


def _seq(event: Livescore) -> int:
    return event.seq


class MatchMemories:
    """Read and write match memories (JSON bytes in a Faust table).

    The table holds bytes (they are what the changelog carries); the memory last written or
    read for each match is kept decoded beside them, keyed by the very bytes object it came
    from, so a match is decoded once per change, not at every batch. A value the table got
    another way (recovery from the changelog after a rebalance) is a different object and
    is decoded afresh. The memories :meth:`load` returns are these shared objects: read
    them; change a memory only through :meth:`update`.
    """

    def __init__(self, table: MutableMapping[str, bytes]) -> None:
        self._table = table
        self._decoded: dict[str, tuple[bytes, MatchMemory]] = {}

    def load(self, match_ids: Iterable[str], now: dt.datetime) -> dict[str, MatchMemory]:
        """The memory of each match (a new, empty one for a match never seen)."""
        out = {}
        for match_id in match_ids:
            stored = self._table.get(match_id)
            if stored is None:
                out[match_id] = MatchMemory(touched_at=now)
                continue
            held = self._decoded.get(match_id)
            if held is not None and held[0] is stored:
                out[match_id] = held[1]
                continue
            memory = MatchMemory.decode(stored, now)
            self._decoded[match_id] = (stored, memory)
            out[match_id] = memory
        return out

    def update(
        self,
        match_ids: Iterable[str],
        change: Callable[[str, MatchMemory], None],
        now: dt.datetime,
    ) -> None:
        """Read each match's memory as it is now, apply ``change``, write it back stamped
        with ``now``; synchronous, so no other batch's write can land in between."""
        for match_id, memory in self.load(match_ids, now).items():
            change(match_id, memory)
            memory.touched_at = now
            stored = memory.model_dump_json().encode()
            self._table[match_id] = stored
            self._decoded[match_id] = (stored, memory)

    def delete(self, match_id: str) -> None:
        self._table.pop(match_id, None)
        self._decoded.pop(match_id, None)

    def prune(self) -> None:
        """Drop decoded memories the table no longer holds as they were (a match deleted,
        or its partition moved to another worker and the table value changed)."""
        for match_id, (stored, _) in list(self._decoded.items()):
            if self._table.get(match_id) is not stored:
                del self._decoded[match_id]

    def items(self) -> Iterable[tuple[str, bytes]]:
        return self._table.items()


def remember_states(memories: dict[str, MatchMemory], events: Iterable[Livescore]) -> None:
    """Keep the newest state per match; a late, older event does not move it back."""
    newest: dict[str, Livescore] = {}
    keep_newest(newest, events, _match_id, _seq)
    for match_id, event in newest.items():
        memory = memories[match_id]
        held = memory.state
        if outranks(event.seq, None if held is None else held.seq):
            memory.state = event

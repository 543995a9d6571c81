"""The newest livescore of each match, kept in the changelog-backed table ``match_to_state``.

A request during a match is answered for the current score and minute from here. The table
is keyed by ``match_id`` like the inputs, so the worker that owns a match owns its state.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping

from schemas import Livescore
from streams.newest import keep_newest, outranks


def _match_id(event: Livescore) -> str:
    return event.match_id


def _seq(event: Livescore) -> int:
    return event.seq


class MatchStates:
    """Read and remember match states (JSON bytes in a Faust table)."""

    def __init__(self, table: MutableMapping[str, bytes]) -> None:
        self._table = table

    def get(self, match_id: str) -> Livescore | None:
        stored = self._table.get(match_id)
        return Livescore.model_validate_json(stored) if stored is not None else None

    def remember(self, events: Iterable[Livescore]) -> None:
        """Keep the newest state per match; a late, older event does not move it back.

        One table write (one changelog record) per match per batch, not per event: a
        backlog or replay often carries several events of a match in one batch, and each
        write is a produce through Faust's changelog buffer.
        """
        newest: dict[str, Livescore] = {}
        keep_newest(newest, events, _match_id, _seq)
        for match_id, event in newest.items():
            held = self.get(match_id)
            if outranks(event.seq, None if held is None else held.seq):
                self._table[match_id] = event.model_dump_json().encode()

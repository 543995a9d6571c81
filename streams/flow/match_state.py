"""What the champion's path keeps of each match, in the changelog-backed table ``match_to_state``.

The newest livescore (a request during a match is answered for the current score and
minute) and the teams (:class:`schemas.MatchState`), and nothing people read: timelines
and forecasts are read models beside the path (``streams.read_models``). The table is keyed
by ``match_id`` like the inputs, so the worker that owns a match owns its state. A batch
reads each of its matches once and writes each changed one once: one changelog record per
match per batch, of a size that does not grow with the match's history.

Both agents may write a match's state (the livescores agent its newest event, the requests
agent teams a request named first), and a batch awaits between reading and writing. So a
batch never writes back what it read: :meth:`MatchStates.update` applies the batch's change
to the state as it is now, in one step with no await, and neither agent can undo the
other's write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator

from schemas import Livescore, MatchState
from streams.faust_glue.decoded import DecodedTable
from streams.faust_glue.table_writer import TableWriter
from streams.newest import keep_newest, outranks

#: A change to one match's state; it returns whether it changed anything (else no write).
Change = Callable[[str, MatchState], bool]


def _match_id(event: Livescore) -> str:
    return event.match_id


def _seq(event: Livescore) -> int:
    return event.seq


class MatchStates:
    """Read and write match states (JSON bytes in a Faust table, each decoded once per
    change: ``streams.faust_glue.decoded``). The states :meth:`load` returns are shared:
    read them; change a state only through :meth:`update`."""

    def __init__(self, writer: TableWriter[str]) -> None:
        #: Its changelog records are outputs of the batch that wrote them.
        self.writer = writer
        self.decoded: DecodedTable[str, MatchState] = DecodedTable(writer, _decode)

    def load(self, match_ids: Iterable[str], now: dt.datetime) -> dict[str, MatchState]:
        """The state of each match (a new, empty one for a match never seen)."""
        out = {}
        for match_id in match_ids:
            found = self.decoded.get(match_id)
            out[match_id] = found if found is not None else MatchState(touched_at=now)
        return out

    def get(self, match_id: str) -> MatchState | None:
        """The stored state of one match, or None."""
        return self.decoded.get(match_id)

    def update(self, match_ids: Iterable[str], change: Change, now: dt.datetime) -> None:
        """Read each match's state as it is now, apply ``change``, and write back those it
        changed, stamped with ``now``; synchronous, so no other batch's write can land in
        between."""
        for match_id, state in self.load(match_ids, now).items():
            if change(match_id, state):
                state.touched_at = now
                self.decoded.put(match_id, state)

    def delete(self, match_id: str) -> None:
        self.decoded.delete(match_id)

    def match_ids(self) -> Iterator[str]:
        """Every match held, in the table's order (``streams.app`` keeps it least
        recently written first)."""
        return self.decoded.keys()

    def count(self) -> int:
        return len(self.writer)

    def prune(self) -> None:
        self.decoded.prune()


def _decode(raw: bytes) -> MatchState:
    return MatchState.decode(raw, dt.datetime.now(dt.UTC))


def newest_states(events: Iterable[Livescore]) -> dict[str, Livescore]:
    """The newest event of each match among ``events``."""
    newest: dict[str, Livescore] = {}
    keep_newest(newest, events, _match_id, _seq)
    return newest


def remember_state(state: MatchState, event: Livescore) -> bool:
    """Keep ``event`` as the newest state unless a newer one is held (a late, older event
    does not move it back); whether it changed."""
    held = state.state
    if not outranks(event.seq, None if held is None else held.seq):
        return False
    state.state = event
    return True

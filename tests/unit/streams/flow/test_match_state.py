"""Match memories: the newest state per match, one table write per match per batch."""

from __future__ import annotations

import datetime as dt

from schemas import Livescore, MatchMemory
from streams.flow.match_state import MatchMemories, remember_states
from tests.factories import livescore

NOW = dt.datetime(2024, 6, 14, 20, tzinfo=dt.UTC)


class CountingTable(dict):
    """A dict standing in for the Faust table, counting writes (changelog records)."""

    writes = 0

    def __setitem__(self, key: str, value: bytes) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def test_the_newest_state_wins_and_each_match_is_written_once() -> None:
    table = CountingTable(
        m1=MatchMemory(state=livescore(match_id="m1", seq=4), touched_at=NOW)
        .model_dump_json()
        .encode(),
        # A value from before the memory existed: a bare livescore.
        m3=livescore(match_id="m3", seq=9).model_dump_json().encode(),
    )
    memories = MatchMemories(table)
    seqs = [("m1", 3), ("m1", 5), ("m2", 1), ("m1", 4), ("m3", 2)]
    loaded = memories.load({m for m, _ in seqs}, NOW)
    remember_states(loaded, [livescore(match_id=m, seq=s) for m, s in seqs])
    memories.save(loaded, NOW)

    states = {m: MatchMemory.model_validate_json(v).state for m, v in table.items()}
    assert {m: s.seq for m, s in states.items() if isinstance(s, Livescore)} == {
        "m1": 5,
        "m2": 1,
        "m3": 9,
    }
    assert table.writes == 3, "one write per match of the batch, however many events"


def test_a_match_never_seen_starts_empty() -> None:
    loaded = MatchMemories({}).load(["new"], NOW)
    assert loaded["new"].state is None and loaded["new"].forecasts == {}

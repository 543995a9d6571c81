"""Match memories: the newest state per match, one table write per match per batch."""

from __future__ import annotations

import datetime as dt

import pytest

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
    events = [livescore(match_id=m, seq=s) for m, s in seqs]
    memories.update(
        {m for m, _ in seqs},
        lambda match_id, memory: remember_states(
            {match_id: memory}, [e for e in events if e.match_id == match_id]
        ),
        NOW,
    )

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


def test_an_update_applies_to_the_memory_as_it_is_now_not_as_it_was_read() -> None:
    """The requests agent's write must not undo the livescores agent's (both await between
    reading a match and writing it)."""
    table = CountingTable()
    memories = MatchMemories(table)
    read_by_requests = memories.load(["m1"], NOW)["m1"]
    memories.update(
        ["m1"], lambda _, memory: remember_states({"m1": memory}, [livescore(seq=5)]), NOW
    )
    assert read_by_requests.state is None  # what the other batch read, before the write

    def answered(_: str, memory: MatchMemory) -> None:
        memory.finished_at = NOW

    memories.update(["m1"], answered, NOW)
    held = MatchMemory.model_validate_json(table["m1"])
    assert held.state is not None and held.state.seq == 5 and held.finished_at == NOW


def test_a_match_is_decoded_once_per_change_and_afresh_after_recovery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decodes = []
    real = MatchMemory.decode

    def counting(raw: bytes, now: dt.datetime) -> MatchMemory:
        decodes.append(raw)
        return real(raw, now)

    monkeypatch.setattr(MatchMemory, "decode", counting)
    table: dict[str, bytes] = {}
    memories = MatchMemories(table)
    memories.update(
        ["m1"], lambda _, memory: remember_states({"m1": memory}, [livescore(seq=2)]), NOW
    )
    for _ in range(3):
        assert memories.load(["m1"], NOW)["m1"].state.seq == 2  # type: ignore[union-attr]
    assert decodes == [], "written here: its memory is held decoded"
    # The changelog restores the value as a new bytes object (a rebalance, a restart).
    table["m1"] = bytes(bytearray(table["m1"]))
    assert memories.load(["m1"], NOW)["m1"].state.seq == 2  # type: ignore[union-attr]
    assert len(decodes) == 1

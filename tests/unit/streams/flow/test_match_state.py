"""The newest state per match, one table write per match per batch."""

from __future__ import annotations

from schemas import Livescore
from streams.flow.match_state import MatchStates
from tests.factories import livescore


class CountingTable(dict):
    """A dict standing in for the Faust table, counting writes (changelog records)."""

    writes = 0

    def __setitem__(self, key: str, value: bytes) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def test_remember_writes_the_newest_state_once_per_match_and_never_goes_back() -> None:
    table = CountingTable(
        m1=livescore(match_id="m1", seq=4).model_dump_json().encode(),
        m3=livescore(match_id="m3", seq=9).model_dump_json().encode(),
    )
    states = MatchStates(table)
    seqs = [("m1", 3), ("m1", 5), ("m2", 1), ("m1", 4), ("m3", 2)]

    states.remember([livescore(match_id=m, seq=s) for m, s in seqs])

    assert {m: Livescore.model_validate_json(v).seq for m, v in table.items()} == {
        "m1": 5,
        "m2": 1,
        "m3": 9,
    }
    assert table.writes == 2, "m1 and m2 once each; m3's late event writes nothing"


def test_get_reads_back_what_was_remembered() -> None:
    states = MatchStates({})
    assert states.get("m1") is None
    states.remember([livescore(seq=3, minute=20)])
    held = states.get("m1")
    assert held is not None and (held.seq, held.minute) == (3, 20)

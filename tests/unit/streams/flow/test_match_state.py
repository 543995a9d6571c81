"""Match states: the newest state and the teams per match, one small write per changed
match per batch, applied to the state as it is now."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas import Livescore, MatchState, MatchTeams
from streams.faust_glue.table_writer import TableWriter
from streams.flow.match_state import Change, MatchStates, newest_states, remember_state
from streams.sinks.memory import InMemorySender
from tests.factories import livescore

NOW = dt.datetime(2024, 6, 14, 20, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=3)
TEAMS = MatchTeams(home_team="Spain", away_team="Brazil", neutral=True, tournament="Cup")


def states(store: dict[str, bytes] | None = None) -> tuple[MatchStates, dict[str, bytes]]:
    held = {} if store is None else store
    writer = TableWriter(held, InMemorySender(), str.encode, lambda _: None)
    return MatchStates(writer), held


def stored(state: MatchState) -> bytes:
    return state.model_dump_json().encode()


def keep_newest_of(events: list[Livescore]) -> Change:
    newest = newest_states(events)

    def change(match_id: str, state: MatchState) -> bool:
        event = newest.get(match_id)
        return event is not None and remember_state(state, event)

    return change


def test_the_newest_state_wins_and_each_changed_match_is_written_once() -> None:
    made, store = states(
        {
            "m1": stored(MatchState(state=livescore(match_id="m1", seq=4), touched_at=NOW)),
            # A value from before the state existed: a bare livescore.
            "m3": livescore(match_id="m3", seq=9).model_dump_json().encode(),
        }
    )
    seqs = [("m1", 3), ("m1", 5), ("m2", 1), ("m1", 4), ("m3", 2)]
    events = [livescore(match_id=m, seq=s) for m, s in seqs]
    made.update({m for m, _ in seqs}, keep_newest_of(events), LATER)

    held = {m: MatchState.decode(v, NOW) for m, v in store.items()}
    assert {m: s.state.seq for m, s in held.items() if s.state} == {"m1": 5, "m2": 1, "m3": 9}
    changelog = made.writer.take()
    # m3's late event changed nothing: no write. m1's three events: one write.
    written = {r.key: MatchState.model_validate_json(r.value or b"") for r in changelog}
    assert len(changelog) == 2
    assert {k: s.state.seq for k, s in written.items() if s.state} == {b"m1": 5, b"m2": 1}
    assert held["m1"].touched_at == LATER and held["m3"].touched_at != LATER


def test_a_match_never_seen_starts_empty_and_is_not_written_by_a_read() -> None:
    made, store = states()
    loaded = made.load(["new"], NOW)
    assert loaded["new"] == MatchState(state=None, teams=None, touched_at=NOW)
    assert made.get("new") is None and store == {} and made.writer.take() == []


def test_an_update_applies_to_the_state_as_it_is_now_not_as_it_was_read() -> None:
    """The requests agent's write must not undo the livescores agent's (both await between
    reading a match and writing it)."""
    made, _ = states()
    read_by_requests = made.load(["m1"], NOW)["m1"]
    made.update(["m1"], keep_newest_of([livescore(seq=5)]), NOW)
    assert read_by_requests.state is None  # what the other batch read, before the write

    def learnt(_: str, state: MatchState) -> bool:
        state.teams = TEAMS
        return True

    made.update(["m1"], learnt, LATER)
    held = made.get("m1")
    assert held is not None and held.state is not None and held.state.seq == 5
    assert held.teams == TEAMS and held.touched_at == LATER
    assert len(made.writer.take()) == 2, "one write per update that changed the match"


def test_the_state_write_is_small_whatever_the_history() -> None:
    made, store = states()
    sizes = []
    for seq in range(200):
        made.update(["m1"], keep_newest_of([livescore(seq=seq, minute=seq % 120)]), NOW)
        sizes.append(len(store["m1"]))
    # The value holds one livescore: its size moves only with the digits of seq and minute.
    assert max(sizes) - min(sizes) <= 4


def test_a_late_event_does_not_move_the_state_back_and_a_repeat_of_the_seq_replaces() -> None:
    state = MatchState(state=livescore(seq=5, minute=40), touched_at=NOW)
    assert not remember_state(state, livescore(seq=4, minute=38))
    assert state.state is not None and state.state.minute == 40
    assert remember_state(state, livescore(seq=5, minute=41)), "a tie goes to the later"
    assert state.state.minute == 41
    assert remember_state(MatchState(touched_at=NOW), livescore(seq=0))


def test_newest_states_keep_the_highest_seq_per_match() -> None:
    events = [livescore(match_id=m, seq=s, minute=s) for m, s in [("a", 2), ("b", 1), ("a", 1)]]
    assert {m: e.seq for m, e in newest_states(events).items()} == {"a": 2, "b": 1}


def test_a_match_is_decoded_once_per_change_and_afresh_after_recovery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decodes = []
    real = MatchState.decode

    def counting(raw: bytes, now: dt.datetime) -> MatchState:
        decodes.append(raw)
        return real(raw, now)

    monkeypatch.setattr(MatchState, "decode", counting)
    made, store = states()
    made.update(["m1"], keep_newest_of([livescore(seq=2)]), NOW)
    for _ in range(3):
        assert made.load(["m1"], NOW)["m1"].state.seq == 2  # type: ignore[union-attr]
    assert decodes == [], "written here: its state is held decoded"
    # The changelog restores the value as a new bytes object (a rebalance, a restart).
    store["m1"] = bytes(bytearray(store["m1"]))
    assert made.load(["m1"], NOW)["m1"].state.seq == 2  # type: ignore[union-attr]
    assert made.get("m1") is not None
    assert len(decodes) == 1


def test_a_deleted_match_leaves_a_tombstone_and_the_listing() -> None:
    made, store = states()
    made.update(
        ["m1", "m2"], keep_newest_of([livescore(match_id="m1"), livescore(match_id="m2")]), NOW
    )
    made.writer.take()
    made.delete("m1")
    assert list(made.match_ids()) == ["m2"] and "m1" not in store
    assert [(r.key, r.value) for r in made.writer.take()] == [(b"m1", None)]

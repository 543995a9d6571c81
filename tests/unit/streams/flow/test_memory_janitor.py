"""Which matches the janitor forgets, and what it sends: a tombstone per forgotten match of
this worker's partitions, and nothing for a standby's. Expired matches go at the minute's
sweep; past the limit, every second, the matches never followed live go first, then the
others, each least recently written first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from schemas import MatchState, MatchTeams
from streams.faust_glue.partitions import partition_of
from streams.faust_glue.recency import RecentlyWritten
from streams.faust_glue.table_writer import TableWriter
from streams.flow import memory_janitor
from streams.flow.match_state import MatchStates
from streams.flow.memory_janitor import MemoryJanitor, StateStore, state_expired
from streams.metrics import Metrics
from streams.sinks.kafka_sender import Outgoing
from streams.sinks.memory import InMemorySender
from streams.table_names import MATCH_STATE_TABLE
from tests.factories import livescore

NOW = dt.datetime(2024, 6, 14, 22, tzinfo=dt.UTC)
TTL, FINISHED_TTL = dt.timedelta(hours=48), dt.timedelta(minutes=60)
PARTITIONS = 6
TEAMS = MatchTeams(home_team="Germany", away_team="Scotland")


def test_a_finished_match_is_forgotten_after_the_short_ttl() -> None:
    state = MatchState(
        state=livescore(status="finished", minute=90), touched_at=NOW - dt.timedelta(minutes=61)
    )
    assert state_expired(state, NOW, TTL, FINISHED_TTL)
    state.touched_at = NOW - dt.timedelta(minutes=59)
    assert not state_expired(state, NOW, TTL, FINISHED_TTL)


def test_an_unfinished_match_is_kept_for_the_long_ttl() -> None:
    for state in (livescore(status="live"), None):  # live, or only requests so far
        held = MatchState(state=state, touched_at=NOW - dt.timedelta(hours=47))
        assert not state_expired(held, NOW, TTL, FINISHED_TTL)
        held.touched_at = NOW - dt.timedelta(hours=49)
        assert state_expired(held, NOW, TTL, FINISHED_TTL)


def app_owning(*partitions: int) -> Any:
    """An app whose consumer was assigned these partitions of the livescores topic as
    active, and another topic's partition 2 (which owns nothing of these matches)."""
    actives = {TP("livescores", p) for p in partitions} | {TP("match-requests", 2)}
    return SimpleNamespace(
        assignor=SimpleNamespace(assigned_actives=lambda: actives),
        rebalancing=False,
        in_recovery=False,
    )


def match_in(partition: int, avoid: Collection[str] = ()) -> str:
    """A match id the default partitioner puts in ``partition``."""
    return next(
        m
        for m in (f"m{i}" for i in range(1000))
        if partition_of(m, PARTITIONS) == partition and m not in avoid
    )


def seeded(
    ages: dict[str, tuple[str, dt.timedelta]],
) -> tuple[MatchStates, RecentlyWritten[str, bytes]]:
    """States of the matches, each with a status and last touched that long ago, written
    in the order given; the status ``requested`` is a match with teams and no livescore."""
    now = dt.datetime.now(dt.UTC)
    store: RecentlyWritten[str, bytes] = RecentlyWritten()
    for m, (status, age) in ages.items():
        state = (
            MatchState(teams=TEAMS, touched_at=now - age)
            if status == "requested"
            else MatchState(state=livescore(match_id=m, status=status), touched_at=now - age)
        )
        store[m] = state.model_dump_json().encode()
    return MatchStates(TableWriter(store, InMemorySender(), str.encode, lambda _: None)), store


class Sent:
    """``send_all`` of the janitor: what it produced, call by call."""

    def __init__(self) -> None:
        self.calls: list[list[Outgoing]] = []

    async def __call__(self, records: list[Outgoing]) -> None:
        self.calls.append(records)

    def tombstones(self) -> list[str]:
        assert all(r.value is None for call in self.calls for r in call)
        return [r.key.decode() for call in self.calls for r in call if r.key is not None]


def janitor_of(
    states: MatchStates, sent: Sent, *owned: int, limit: int = 1000, metrics: Metrics | None = None
) -> MemoryJanitor:
    return MemoryJanitor(
        app_owning(*owned),
        [StateStore(states)],
        "livescores",
        PARTITIONS,
        TTL,
        FINISHED_TTL,
        limit,
        metrics or Metrics(),
        sent,
    )


def forgotten(metrics: Metrics, reason: str) -> float | None:
    return metrics.registry.get_sample_value(
        "soccer_match_memories_forgotten_total", {"table": MATCH_STATE_TABLE, "reason": reason}
    )


async def test_a_sweep_forgets_the_owned_expired_matches_and_sends_their_tombstones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(memory_janitor, "SWEEP_CHUNK", 2)  # yields to the loop mid-sweep too
    old_live, old_done = match_in(0), match_in(1)
    fresh = match_in(0, {old_live})
    standby = match_in(2)  # another worker's partition: it forgets its own
    states, store = seeded(
        {
            old_live: ("live", dt.timedelta(hours=49)),
            old_done: ("finished", dt.timedelta(minutes=61)),
            fresh: ("finished", dt.timedelta(minutes=5)),
            standby: ("live", dt.timedelta(hours=100)),
        }
    )
    sent, metrics = Sent(), Metrics()
    janitor = janitor_of(states, sent, 0, 1, metrics=metrics)
    assert janitor.owned() == {0, 1}
    await janitor.poll()

    assert set(store) == {fresh, standby}
    assert janitor.forgotten == 2 and forgotten(metrics, "expired") == 2.0
    assert sorted(sent.tombstones()) == sorted([old_live, old_done])
    held = metrics.registry.get_sample_value("soccer_match_memories", {"table": MATCH_STATE_TABLE})
    assert held == 2.0

    calls = len(sent.calls)
    await janitor.poll()
    assert len(sent.calls) == calls, "nothing more to forget: nothing sent"


async def test_a_worker_that_owns_no_partition_forgets_nothing() -> None:
    states, store = seeded({match_in(0): ("live", dt.timedelta(hours=100))})
    sent = Sent()
    janitor = janitor_of(states, sent, limit=1)
    states.update([match_in(1)], lambda _, state: True, dt.datetime.now(dt.UTC))
    states.writer.take()  # the batch that wrote it produces its record
    await janitor.poll()
    assert len(store) == 2 and sent.calls == [] and janitor.forgotten == 0


def flood(count: int, first: int = 0) -> dict[str, tuple[str, dt.timedelta]]:
    """Request-only matches ``f{first}`` .. in the order written, all fresh."""
    return {f"f{i}": ("requested", dt.timedelta(seconds=1)) for i in range(first, first + count)}


async def test_past_the_limit_the_least_recently_written_go_first() -> None:
    states, store = seeded(flood(6))
    # f0 written again (teams learnt anew): the most recent now.
    states.update(["f0"], lambda _, state: True, dt.datetime.now(dt.UTC))
    states.writer.take()  # the batch that wrote it produces its record
    sent, metrics = Sent(), Metrics()
    janitor = janitor_of(states, sent, *range(PARTITIONS), limit=3, metrics=metrics)
    await janitor.poll()

    assert list(store) == ["f4", "f5", "f0"]
    assert sent.tombstones() == ["f1", "f2", "f3"]
    assert forgotten(metrics, "limit") == 3.0 and forgotten(metrics, "expired") is None
    held = metrics.registry.get_sample_value("soccer_match_memories", {"table": MATCH_STATE_TABLE})
    assert held == 3.0


async def test_a_match_followed_live_survives_a_flood_of_requests() -> None:
    # The followed match is the oldest written; the request-only ones go before it.
    states, store = seeded({"live": ("live", dt.timedelta(minutes=5))} | flood(10))
    sent = Sent()
    janitor = janitor_of(states, sent, *range(PARTITIONS), limit=3)
    await janitor.poll()
    assert list(store) == ["live", "f8", "f9"]
    assert sent.tombstones() == [f"f{i}" for i in range(8)]


async def test_followed_matches_go_too_once_no_request_only_one_is_left() -> None:
    followed = {f"l{i}": ("live", dt.timedelta(minutes=5)) for i in range(4)}
    states, store = seeded(followed | flood(1))
    sent = Sent()
    janitor = janitor_of(states, sent, *range(PARTITIONS), limit=2)
    await janitor.poll()
    assert list(store) == ["l2", "l3"], "the request-only one, then the oldest followed"
    assert sent.tombstones() == ["f0", "l0", "l1"]


async def test_only_the_owned_partitions_count_and_are_forgotten() -> None:
    owned_old, owned_new = match_in(0), match_in(0, {match_in(0)})
    standby_old, standby_new = match_in(2), match_in(2, {match_in(2)})
    fresh = dt.timedelta(seconds=1)
    states, store = seeded(
        {
            standby_old: ("requested", fresh),
            owned_old: ("requested", fresh),
            standby_new: ("requested", fresh),
            owned_new: ("requested", fresh),
        }
    )
    sent = Sent()
    # Four held, limit one: two are standby copies (their owner holds them to its limit).
    janitor = janitor_of(states, sent, 0, 1, limit=1)
    await janitor.poll()
    assert list(store) == [standby_old, standby_new, owned_new]
    assert sent.tombstones() == [owned_old]
    await janitor.poll()
    assert sent.tombstones() == [owned_old], "at the limit: nothing more"


async def test_the_limit_is_held_every_poll_and_the_sweep_runs_once_a_minute() -> None:
    expired = {"old": ("live", dt.timedelta(hours=49))}
    states, store = seeded(expired | flood(2))
    sent = Sent()
    janitor = janitor_of(states, sent, *range(PARTITIONS), limit=2)
    await janitor.poll()  # the first poll sweeps
    assert "old" not in store and sent.tombstones() == ["old"]

    later = seeded(expired | flood(3, first=10))[1]
    for m, value in later.items():
        store[m] = value  # written meanwhile: an expired one and a flood
    await janitor.poll()  # within the minute: the limit only (request-only ones first)
    assert list(store) == ["old", "f12"], "expired, but the sweep waits for its minute"
    assert sent.tombstones() == ["old", "f0", "f1", "f10", "f11"]

    janitor._swept_at = 0.0  # a minute has passed
    await janitor.poll()
    assert list(store) == ["f12"]


async def test_tombstones_go_out_a_chunk_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory_janitor, "SWEEP_CHUNK", 2)
    states, store = seeded(flood(7))
    sent = Sent()
    janitor = janitor_of(states, sent, *range(PARTITIONS), limit=2)
    await janitor.poll()
    assert [len(call) for call in sent.calls] == [2, 2, 1]
    assert sent.tombstones() == ["f0", "f1", "f2", "f3", "f4"] and list(store) == ["f5", "f6"]


async def test_nothing_is_forgotten_while_the_tables_recover() -> None:
    # Mid-recovery a table holds values whose tombstones are still to be read.
    states, store = seeded({"old": ("live", dt.timedelta(hours=49))} | flood(5))
    sent, metrics = Sent(), Metrics()
    janitor = janitor_of(states, sent, *range(PARTITIONS), limit=2, metrics=metrics)
    janitor.app.in_recovery = True
    await janitor.poll()
    janitor.app.in_recovery, janitor.app.rebalancing = False, True
    await janitor.poll()
    assert len(store) == 6 and sent.calls == []
    held = metrics.registry.get_sample_value("soccer_match_memories", {"table": MATCH_STATE_TABLE})
    assert held == 6.0, "counted all the same"

    janitor.app.rebalancing = False
    await janitor.poll()
    assert list(store) == ["f3", "f4"], "recovered: the sweep and the limit both"

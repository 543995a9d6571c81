"""Which matches the janitor forgets, and what a sweep sends: a tombstone per forgotten
match of this worker's partitions, and nothing for a standby's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from schemas import MatchState
from streams.faust_glue.partitions import partition_of
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
    return SimpleNamespace(assignor=SimpleNamespace(assigned_actives=lambda: actives))


def match_in(partition: int, avoid: Collection[str] = ()) -> str:
    """A match id the default partitioner puts in ``partition``."""
    return next(
        m
        for m in (f"m{i}" for i in range(1000))
        if partition_of(m, PARTITIONS) == partition and m not in avoid
    )


def seeded(ages: dict[str, tuple[str, dt.timedelta]]) -> tuple[MatchStates, dict[str, bytes]]:
    """States of the matches, each with a status and last touched that long ago."""
    now = dt.datetime.now(dt.UTC)
    store = {
        m: MatchState(state=livescore(match_id=m, status=status), touched_at=now - age)
        .model_dump_json()
        .encode()
        for m, (status, age) in ages.items()
    }
    return MatchStates(TableWriter(store, InMemorySender(), str.encode, lambda _: None)), store


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
    sent: list[list[Outgoing]] = []

    async def send_all(records: list[Outgoing]) -> None:
        sent.append(records)

    metrics = Metrics()
    janitor = MemoryJanitor(
        app_owning(0, 1),
        [StateStore(states)],
        "livescores",
        PARTITIONS,
        TTL,
        FINISHED_TTL,
        metrics,
        send_all,
    )
    assert janitor.owned() == {0, 1}
    await janitor.poll()

    assert set(store) == {fresh, standby}
    assert janitor.forgotten == 2
    (tombstones,) = sent
    assert sorted((r.key, r.value) for r in tombstones) == sorted(
        [(old_live.encode(), None), (old_done.encode(), None)]
    )
    held = metrics.registry.get_sample_value("soccer_match_memories", {"table": MATCH_STATE_TABLE})
    assert held == 2.0

    await janitor.poll()
    assert len(sent) == 1, "nothing more to forget: nothing sent"


async def test_a_worker_that_owns_no_partition_forgets_nothing() -> None:
    states, store = seeded({match_in(0): ("live", dt.timedelta(hours=100))})
    sent: list[list[Outgoing]] = []

    async def send_all(records: list[Outgoing]) -> None:
        sent.append(records)

    janitor = MemoryJanitor(
        app_owning(),
        [StateStore(states)],
        "livescores",
        PARTITIONS,
        TTL,
        FINISHED_TTL,
        Metrics(),
        send_all,
    )
    await janitor.poll()
    assert len(store) == 1 and sent == [] and janitor.forgotten == 0

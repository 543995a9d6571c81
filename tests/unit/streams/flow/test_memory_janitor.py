"""Which match memories the janitor forgets."""

from __future__ import annotations

import datetime as dt

from schemas import MatchMemory
from streams.flow.memory_janitor import is_expired

NOW = dt.datetime(2024, 6, 14, 22, tzinfo=dt.UTC)
TTL, FINISHED_TTL = dt.timedelta(hours=48), dt.timedelta(minutes=60)


def test_a_finished_match_is_forgotten_after_the_short_ttl() -> None:
    memory = MatchMemory(touched_at=NOW - dt.timedelta(minutes=61), finished_at=NOW)
    assert is_expired(memory, NOW, TTL, FINISHED_TTL)
    memory.touched_at = NOW - dt.timedelta(minutes=59)
    assert not is_expired(memory, NOW, TTL, FINISHED_TTL)


def test_an_unfinished_match_is_kept_for_the_long_ttl() -> None:
    memory = MatchMemory(touched_at=NOW - dt.timedelta(hours=47))
    assert not is_expired(memory, NOW, TTL, FINISHED_TTL)
    memory.touched_at = NOW - dt.timedelta(hours=49)
    assert is_expired(memory, NOW, TTL, FINISHED_TTL)

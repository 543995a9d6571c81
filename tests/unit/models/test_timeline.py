"""A match as the states it passes through."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.timeline import Goal, TimelineEvent, match_timeline, score_at


def states(events: list[TimelineEvent]) -> list[tuple[int, str, int, int]]:
    return [(e.minute, e.status, e.home_goals, e.away_goals) for e in events]


def test_timeline_orders_kickoff_goals_halftime_fulltime() -> None:
    goals = [
        Goal(side="away", minute=70),
        Goal(side="home", minute=12),
        Goal(side="home", minute=45),
    ]
    assert states(match_timeline(2, 1, goals)) == [
        (0, "live", 0, 0),
        (12, "live", 1, 0),
        (45, "live", 2, 0),  # first-half stoppage time is recorded as 45: before half-time
        (45, "halftime", 2, 0),
        (70, "live", 2, 1),
        (90, "finished", 2, 1),
    ]


def test_goalless_match_has_three_states() -> None:
    assert states(match_timeline(0, 0, [])) == [
        (0, "live", 0, 0),
        (45, "halftime", 0, 0),
        (90, "finished", 0, 0),
    ]


def test_unknown_minutes_are_spread_and_final_score_kept() -> None:
    events = match_timeline(2, 1, [Goal(side="home", minute=None), Goal(side="away", minute=80)])
    # The missing home goal is added; two home goals with no minute go to 30 and 60.
    assert states(events) == [
        (0, "live", 0, 0),
        (30, "live", 1, 0),
        (45, "halftime", 1, 0),
        (60, "live", 2, 0),
        (80, "live", 2, 1),
        (90, "finished", 2, 1),
    ]


def test_more_recorded_goals_than_score_drops_the_extra() -> None:
    goals = [Goal(side="home", minute=m) for m in (10, 20, 88)] + [Goal(side="home")]
    events = match_timeline(2, 0, goals)
    assert events[-1].home_goals == 2
    assert [e.minute for e in events if e.status == "live"] == [0, 10, 20]


def test_extra_time_goal_moves_full_time() -> None:
    events = match_timeline(1, 0, [Goal(side="home", minute=104)])
    assert states(events)[-2:] == [(104, "live", 1, 0), (104, "finished", 1, 0)]


def test_timeline_is_monotonic_and_pure() -> None:
    goals = [Goal(side=s, minute=m) for s, m in [("home", 90), ("away", 1), ("home", 46)]]
    first, second = match_timeline(2, 1, goals), match_timeline(2, 1, list(reversed(goals)))
    assert first == second
    minutes = [e.minute for e in first]
    assert minutes == sorted(minutes)
    totals = [e.home_goals + e.away_goals for e in first]
    assert totals == sorted(totals)


def test_score_at_reads_the_state_at_a_minute() -> None:
    events = match_timeline(1, 1, [Goal(side="home", minute=15), Goal(side="away", minute=75)])
    assert [score_at(events, m) for m in (0, 14, 15, 74, 90)] == [
        (0, 0),
        (0, 0),
        (1, 0),
        (1, 0),
        (1, 1),
    ]


def test_timeline_rejects_impossible_input() -> None:
    with pytest.raises(ValueError):
        match_timeline(-1, 0, [])
    with pytest.raises(ValidationError):
        Goal(side="home", minute=200)

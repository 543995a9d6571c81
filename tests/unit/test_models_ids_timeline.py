"""Unit tests of match ids and match timelines (shared by training and the live replay)."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest
from pydantic import ValidationError

from models.ids import match_id
from models.timeline import Goal, TimelineEvent, match_timeline, score_at

SAFE_ID = re.compile(r"^[0-9a-z_-]{1,128}$")


def test_match_id_example_and_types_agree() -> None:
    expected = "2024-06-14_germany_scotland"
    assert match_id("2024-06-14", "Germany", "Scotland") == expected
    assert match_id(dt.date(2024, 6, 14), "Germany", "Scotland") == expected
    assert match_id(pd.Timestamp("2024-06-14"), "Germany", "Scotland") == expected


@pytest.mark.parametrize(
    ("home", "away", "expected"),
    [
        ("Curaçao", "Côte d'Ivoire", "2024-01-01_curacao_cote-d-ivoire"),
        ("South Korea", "Bosnia and Herzegovina", "2024-01-01_south-korea_bosnia-and-herzegovina"),
        ("São Tomé and Príncipe", "DR Congo", "2024-01-01_sao-tome-and-principe_dr-congo"),
    ],
)
def test_match_id_slugs_are_readable(home: str, away: str, expected: str) -> None:
    assert match_id("2024-01-01", home, away) == expected


def test_match_id_is_safe_and_bounded_for_any_name() -> None:
    weird = ["日本", "x" * 300, "a/b:c d*e", "Ελλάδα", "🙂 FC"]
    ids = {match_id("1999-12-31", home, away) for home in weird for away in weird if home != away}
    assert len(ids) == len(weird) * (len(weird) - 1)  # distinct names give distinct ids
    assert all(SAFE_ID.match(i) for i in ids)


def test_match_id_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="ISO date"):
        match_id("14/06/2024", "Germany", "Scotland")
    with pytest.raises(ValueError, match="non-empty"):
        match_id("2024-06-14", " ", "Scotland")


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

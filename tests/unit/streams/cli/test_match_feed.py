"""Unit tests of the replay schedule: matches in, timed livescores events out."""

from __future__ import annotations

import datetime as dt

import pytest

from models.data import MatchData
from models.ids import match_id
from models.synthetic import generate_matches
from models.timeline import Goal, match_timeline
from schemas import Livescore, MatchRequest
from streams.cli.match_feed import ReplayMatch, request_schedule, schedule, select_matches

START = dt.datetime(2026, 6, 11, 18, tzinfo=dt.UTC)


def match(
    home: str, away: str, score: tuple[int, int], goals: tuple[Goal, ...] = ()
) -> ReplayMatch:
    date = dt.date(2024, 6, 14)
    return ReplayMatch(
        match_id=match_id(date, home, away),
        date=date,
        home_team=home,
        away_team=away,
        neutral=True,
        tournament="UEFA Euro",
        home_score=score[0],
        away_score=score[1],
        goals=goals,
    )


GERMANY = match(
    "Germany",
    "Scotland",
    (2, 1),
    (Goal(side="home", minute=10), Goal(side="home", minute=60), Goal(side="away", minute=87)),
)
SPAIN = match("Spain", "Croatia", (0, 0))


def test_events_follow_the_timeline_with_increasing_seq() -> None:
    events = schedule([GERMANY], speed=60, start=START)
    decoded = [Livescore.model_validate_json(e.value) for e in events]
    states = match_timeline(2, 1, GERMANY.goals)
    assert [(d.minute, d.status, d.home_goals, d.away_goals) for d in decoded] == [
        (s.minute, s.status, s.home_goals, s.away_goals) for s in states
    ]
    assert [d.seq for d in decoded] == list(range(len(states)))
    assert all(e.key == GERMANY.match_id.encode() for e in events)


def test_every_event_names_the_fixture_so_unknown_matches_work() -> None:
    (first, *_) = schedule([GERMANY], speed=60, start=START)
    event = Livescore.model_validate_json(first.value)
    assert (event.home_team, event.away_team, event.neutral, event.tournament, event.date) == (
        "Germany",
        "Scotland",
        True,
        "UEFA Euro",
        dt.date(2024, 6, 14),
    )


def test_speed_sets_the_delay_and_ts_is_when_the_event_is_due() -> None:
    events = schedule([GERMANY], speed=30, start=START)
    by_minute = {e.event.minute: e for e in events}
    assert by_minute[60].delay == pytest.approx(2.0)  # 60 match-minutes at 30 per second
    assert by_minute[90].event.ts == START + dt.timedelta(seconds=3)


def test_stagger_interleaves_matches_and_keeps_each_in_order() -> None:
    events = schedule([GERMANY, SPAIN], speed=60, start=START, stagger_minutes=15)
    delays = [e.delay for e in events]
    assert delays == sorted(delays)
    spain = [e for e in events if e.key == SPAIN.match_id.encode()]
    assert spain[0].delay == pytest.approx(0.25)  # kicks off 15 match-minutes later
    for mid in (GERMANY.match_id, SPAIN.match_id):
        seqs = [e.event.seq for e in events if e.event.match_id == mid]
        assert seqs == sorted(seqs)
    assert events[0].event.match_id == GERMANY.match_id


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"speed": 0}, "speed"), ({"speed": 1, "stagger_minutes": -1}, "stagger")],
)
def test_bad_schedules_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        schedule([GERMANY], start=START, **kwargs)


@pytest.fixture(scope="module")
def data() -> MatchData:
    return generate_matches(400, seed=11)


def test_select_uses_the_contract_match_ids_and_the_goals(data: MatchData) -> None:
    chosen = select_matches(data, max_matches=5)
    rows = data.results.tail(5)
    assert [m.match_id for m in chosen] == [
        match_id(r.date, r.home_team, r.away_team) for r in rows.itertuples()
    ]
    for m in chosen:
        assert len(m.goals) == m.home_score + m.away_score


def test_select_filters_by_tournament_and_date(data: MatchData) -> None:
    friendlies = select_matches(data, tournament="friendly")
    assert friendlies and all(m.tournament == "Friendly" for m in friendlies)
    since = dt.date(2000, 6, 1)
    first = select_matches(data, since=since, max_matches=3)
    assert len(first) == 3 and all(m.date >= since for m in first)
    assert first[0].date == min(m.date for m in select_matches(data, since=since))
    assert select_matches(data, tournament="no such cup") == []


def test_a_kickoff_minute_overrides_the_stagger() -> None:
    spain = SPAIN.model_copy(update={"kickoff_minute": 100.0})
    germany = GERMANY.model_copy(update={"kickoff_minute": 100.0})
    events = schedule([spain, germany], speed=50, start=START, stagger_minutes=15)
    kickoffs = {e.event.match_id: e.delay for e in events if e.event.seq == 0}
    assert kickoffs == {SPAIN.match_id: 2.0, GERMANY.match_id: 2.0}  # together, not staggered


def test_end_minute_puts_the_final_whistle_after_extra_time() -> None:
    level = SPAIN.model_copy(update={"end_minute": 120})
    (*_, last) = schedule([level], speed=60, start=START)
    assert (last.event.status, last.event.minute, last.event.home_goals) == ("finished", 120, 0)
    late = match("Spain", "Croatia", (1, 0), (Goal(side="home", minute=118),))
    late = late.model_copy(update={"end_minute": 120})
    states = [(e.event.minute, e.event.status) for e in schedule([late], speed=60, start=START)]
    assert states[-2:] == [(118, "live"), (120, "finished")]
    (*_, plain) = schedule([SPAIN], speed=60, start=START)
    assert plain.event.minute == 90


def test_select_filters_by_year(data: MatchData) -> None:
    chosen = select_matches(data, year=2000)
    assert chosen and all(m.date.year == 2000 for m in chosen)
    assert len(chosen) == int((data.results["date"].dt.year == 2000).sum())


def test_requests_come_before_each_kickoff_and_name_the_fixture() -> None:
    later = GERMANY.model_copy(update={"kickoff_minute": 60.0})
    requests = request_schedule(
        [SPAIN, later], speed=30, lead_minutes=10, request_prefix="demo-1", stagger_minutes=15
    )
    assert [(r.request.match_id, r.delay) for r in requests] == [
        (SPAIN.match_id, 0.0),  # kicks off at 0: the request goes at the start
        (GERMANY.match_id, pytest.approx(50 / 30)),
    ]
    sent = MatchRequest.model_validate_json(requests[1].value)
    assert sent == requests[1].request
    assert sent.request_id == f"demo-1:{GERMANY.match_id}"
    assert (sent.home_team, sent.away_team, sent.date, sent.neutral, sent.tournament) == (
        "Germany",
        "Scotland",
        dt.date(2024, 6, 14),
        True,
        "UEFA Euro",
    )
    assert requests[1].key == GERMANY.match_id.encode()


def test_bad_request_schedules_are_refused() -> None:
    with pytest.raises(ValueError, match="lead"):
        request_schedule([GERMANY], speed=1, lead_minutes=-1, request_prefix="x")
    with pytest.raises(ValueError, match="speed"):
        request_schedule([GERMANY], speed=0, lead_minutes=1, request_prefix="x")

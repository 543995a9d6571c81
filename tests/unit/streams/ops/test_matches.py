"""The match pages' data, built from a match's record (its state on the champion's path
and its timeline read model): events, views, the list."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from schemas import MatchState, MatchTeams, TimelinePoint
from streams.ops.matches import (
    SPARK_POINTS,
    MatchRecord,
    MatchView,
    events_of,
    match_list,
    match_view,
)
from tests.factories import livescore

NOW = dt.datetime(2024, 6, 14, 22, tzinfo=dt.UTC)


def point(
    seq: int | None,
    minute: int,
    score: tuple[int, int] = (0, 0),
    cards: tuple[int, int] = (0, 0),
    status: str = "live",
    trigger: str = "livescore",
    version: str = "1",
    home: float = 0.5,
) -> TimelinePoint:
    return TimelinePoint.model_validate(
        {
            "at": NOW,
            "trigger": trigger,
            "seq": seq,
            "status": status,
            "minute": minute,
            "home_goals": score[0],
            "away_goals": score[1],
            "home_red_cards": cards[0],
            "away_red_cards": cards[1],
            "home": home,
            "draw": 0.3,
            "away": round(0.7 - home, 10),
            "version": version,
        }
    )


def test_goals_and_red_cards_are_read_off_the_counts() -> None:
    points = [
        point(None, 0, status="scheduled", trigger="request"),
        point(0, 0),
        point(1, 23, score=(1, 0)),
        point(2, 23, score=(1, 0), trigger="request"),  # no change: no mark
        point(3, 51, score=(1, 2), cards=(0, 1)),  # two goals in one event: two marks
        point(4, 60, score=(1, 1)),  # a correction: nothing
    ]
    marks = [(m.kind, m.side, m.minute) for m in events_of(points)]
    assert marks == [
        ("goal", "home", 23),
        ("goal", "away", 51),
        ("goal", "away", 51),
        ("red_card", "away", 51),
    ]


def test_a_truncated_timeline_marks_nothing_at_its_first_point() -> None:
    points = [point(40, 70, score=(2, 1)), point(41, 80, score=(3, 1))]
    assert [(m.side, m.minute) for m in events_of(points, truncated=True)] == [("home", 80)]
    assert len(events_of(points)) == 4, "a whole timeline starts from 0-0"


def record_of(
    points: list[TimelinePoint],
    state: MatchState | None = None,
    teams: MatchTeams | None = None,
    pre_match: TimelinePoint | None = None,
    count: int | None = None,
) -> MatchRecord:
    return MatchRecord(
        state=state,
        teams=teams,
        points=points,
        pre_match=pre_match,
        count=len(points) if count is None else count,
    )


def finished_record() -> MatchRecord:
    pre = point(None, 0, status="scheduled", trigger="request", home=0.45)
    teams = MatchTeams(home_team="<b>Spain</b>", away_team="Brazil", tournament="Cup")
    return record_of(
        [pre, point(1, 10, version="10"), point(9, 90, (2, 1), version="9")],
        state=MatchState(
            state=livescore(seq=9, status="finished", minute=90, home_goals=2, away_goals=1),
            touched_at=NOW,
            teams=teams,
        ),
        teams=teams,
        pre_match=pre,
    )


def test_a_finished_match_shows_its_rating_changes_and_versions() -> None:
    view = match_view("m1", finished_record(), "http://w1:6066", ((1500.0, 1512.5), (1600, 1587.5)))
    assert (view.status, view.minute, view.home_goals, view.away_goals) == ("finished", 90, 2, 1)
    assert view.home_team == "<b>Spain</b>"  # kept as text; the page renders it as text
    assert (view.tournament, view.updated_at, view.truncated) == ("Cup", NOW, False)
    assert [p.kind for p in view.points] == ["pre-match", "livescore", "livescore"]
    assert view.pre_match is not None and view.pre_match.home == 0.45
    assert view.model_versions == ["1", "9", "10"]
    assert view.rating_changes is not None
    assert [(r.team, r.change) for r in view.rating_changes] == [
        ("<b>Spain</b>", 12.5),
        ("Brazil", -12.5),
    ]
    # The JSON is the model's: it reads back as the same view.
    assert MatchView.model_validate_json(view.model_dump_json()) == view


def test_no_rating_changes_before_full_time_or_before_the_stream_applied_them() -> None:
    record = finished_record()
    assert match_view("m1", record, "w", None).rating_changes is None
    live = MatchState(state=livescore(seq=8, status="live", minute=80), touched_at=NOW)
    still_live = dataclasses.replace(record, state=live)
    assert match_view("m1", still_live, "w", ((1.0, 2.0), (3.0, 4.0))).rating_changes is None


def test_a_request_only_match_takes_its_state_from_the_points() -> None:
    view = match_view("m2", record_of([point(None, 0, status="scheduled")]), "w")
    assert (view.status, view.home_team, view.truncated) == ("scheduled", None, False)
    assert view.updated_at == NOW, "no state: the newest point says when"
    assert json.loads(view.model_dump_json())["points"][0]["kind"] == "pre-match"


def test_without_stored_teams_the_teams_come_from_the_newest_livescore() -> None:
    event = livescore(seq=3, minute=12, home_team="Peru", away_team="Chile", home_red_cards=1)
    record = record_of([point(3, 12)], state=MatchState(state=event, touched_at=NOW))
    view = match_view("m5", record, "w")
    assert (view.home_team, view.away_team, view.tournament) == ("Peru", "Chile", None)
    assert (view.minute, view.home_red_cards, view.away_red_cards) == (12, 1, 0)


def test_a_timeline_at_its_bound_is_truncated_and_shows_only_the_points_given() -> None:
    """The list and the page are handed the newest part of the timeline and its count."""
    points = [point(i, 50 + i, score=(1, 0)) for i in range(3)]
    view = match_view("m6", record_of(points, count=10), "w", limit=10)
    assert view.truncated and view.points_limit == 10
    assert [p.seq for p in view.points] == [0, 1, 2]
    assert view.events == [], "the home goal came before the points kept"
    assert not match_view("m6", record_of(points, count=9), "w", limit=10).truncated


def test_the_list_puts_live_first_and_leaves_out_matches_with_nothing_to_draw() -> None:
    done = finished_record()
    long_live = record_of(
        [point(i, min(i, 130)) for i in range(SPARK_POINTS + 10)],
        state=MatchState(
            state=livescore(match_id="m3", seq=99, minute=70),
            touched_at=NOW - dt.timedelta(minutes=5),
        ),
    )
    empty = record_of([], state=MatchState(touched_at=NOW))
    listed = match_list(
        [("m1", done), ("m3", long_live), ("m4", empty)], "http://w1", {2, 0}, ["http://w2"]
    )
    assert [m.match_id for m in listed.matches] == ["m3", "m1"]
    assert len(listed.matches[0].spark) == SPARK_POINTS
    assert listed.matches[0].points == SPARK_POINTS + 10
    assert listed.partitions == [0, 2] and listed.other_workers == ["http://w2"]

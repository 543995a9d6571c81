"""The outputs read model: every published prediction once, keyed by what identifies it;
the timeline in the order Redis decides the newest; the forecasts per version and phase; a
bound per match that never drops a forecast or the pre-match point."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from schemas import Prediction, TimelinePoint
from schemas.json_schema import WIRE_RECORDS
from schemas.prediction import ExpectedGoals, GoalForecastRow
from streams.faust_glue.match_keyed import key_bytes
from streams.faust_glue.table_writer import TableWriter
from streams.read_models.outputs import TIMELINE_POINTS, MatchOutputs, output_key
from streams.sinks.memory import InMemorySender
from tests.factories import (
    READ_AT,
    answer,
    livescore,
    match_keyed_table,
    model_ref,
    prediction,
)


def outputs(limit: int = TIMELINE_POINTS) -> MatchOutputs:
    return MatchOutputs(*match_keyed_table(), limit=limit)


def live(seq: int, minute: int = 10, **kw: object) -> Prediction:
    return prediction(seq=seq, minute=minute, **kw)


def test_points_are_kept_in_seq_order_and_ties_go_after() -> None:
    made = outputs()
    first_event = livescore(seq=1)
    for p in (answer(None, request_id="pre"), live(1), live(3), live(2)):
        made.add([p], "champion")
    made.add([answer(state=first_event, request_id="at-1")], "champion")
    timeline = made.timeline("m1")
    assert [(p.seq, p.trigger) for p in timeline] == [
        (None, "request"),
        (1, "livescore"),
        (1, "request"),  # a request for the same state is the newer answer, as in Redis
        (2, "livescore"),  # a late, older prediction lands where it belongs
        (3, "livescore"),
    ]
    assert made.pre_match("m1") == timeline[0] and timeline[0].request_id == "pre"
    assert made.timeline("m1", last=2) == timeline[-2:]
    assert made.timeline_count("m1") == 5 and made.timeline_match_ids() == ["m1"]


def test_a_point_is_what_the_prediction_said_cards_included() -> None:
    made = outputs()
    p = live(4, minute=30, home_red_cards=1, home_goals=2, away_goals=1)
    made.add([p], "champion")
    (point,) = made.timeline("m1")
    assert point == TimelinePoint(
        at=READ_AT,
        trigger="livescore",
        seq=4,
        request_id=None,
        status="live",
        minute=30,
        home_goals=2,
        away_goals=1,
        home_red_cards=1,
        away_red_cards=0,
        home=0.5,
        draw=0.3,
        away=0.2,
        version="3",
    )


def test_the_same_prediction_read_again_is_written_once() -> None:
    made = outputs()
    p = live(1)
    assert made.add([p], "champion") == {("m1", ("3", "0-29"))}
    records = made.writer.take()
    assert len(records) == 1
    assert made.add([p, p], "champion") == set(), "a re-delivery changes nothing"
    assert made.writer.take() == [] and made.timeline_count("m1") == 1


def test_each_record_is_keyed_by_what_identifies_the_prediction() -> None:
    made = outputs()
    p = live(7, minute=61)
    made.add([p], "challenger")
    (record,) = made.writer.take()
    assert record.key == b'["m1",7,"livescore",null,"3","challenger","60+"]'
    assert record.key == key_bytes(output_key(p, "challenger"))
    assert record.value == made.writer.get(output_key(p, "challenger"))


def test_the_published_contract_names_every_item_of_the_key() -> None:
    (record,) = [r for r in WIRE_RECORDS if r.name == "timeline_point"]
    named = re.fullmatch(r"JSON array \[(.*)\]", record.key)
    assert named is not None
    assert len(named.group(1).split(", ")) == len(output_key(live(1), "champion"))


def test_challengers_are_forecasts_but_not_on_the_timeline() -> None:
    made = outputs()
    made.add([live(1, version="3")], "champion")
    made.add(
        [live(1, version="4", alias="challenger", probabilities=(0.2, 0.3, 0.5))], "challenger"
    )
    assert [p.version for p in made.timeline("m1")] == ["3"]
    forecasts = made.forecasts("m1")
    assert set(forecasts) == {("3", "0-29"), ("4", "0-29")}
    assert (forecasts[("4", "0-29")].home, forecasts[("4", "0-29")].away) == (0.2, 0.5)


def test_a_forecast_keeps_the_expected_goals_and_the_score_they_were_made_at() -> None:
    writer, listing = match_keyed_table()
    made = MatchOutputs(writer, listing)
    goals = GoalForecastRow(
        expected_home=2.4, expected_away=1.2, scorelines=((2, 1, 0.2),), over_2_5=1.0
    )
    with_goals = Prediction.for_livescore(
        livescore(seq=3, minute=70, home_goals=2, away_goals=1),
        [0.7, 0.2, 0.1],
        model=model_ref("5"),
        features_version="v-test+0",
        predicted_at=READ_AT,
        goals=goals,
    )
    made.add([with_goals, live(2, minute=20)], "champion")
    # Through the table's bytes, as a restarted worker reads them.
    again = MatchOutputs(TableWriter(listing, InMemorySender(), key_bytes, lambda _: 0), listing)
    for read in (made, again):
        forecasts = read.forecasts("m1")
        late = forecasts[("5", "60+")]
        assert late.expected_goals == ExpectedGoals(home=2.4, away=1.2)
        assert (late.home_goals, late.away_goals) == (2, 1)
        assert late.goals_to_come == pytest.approx((0.4, 0.2))
        old = forecasts[("3", "0-29")]  # a model without goal forecasts
        assert old.expected_goals is None and old.goals_to_come is None


def test_the_forecast_of_a_phase_is_the_last_prediction_of_its_newest_state() -> None:
    made = outputs()
    made.add([live(1, minute=10, probabilities=(0.5, 0.3, 0.2))], "champion")
    made.add([live(5, minute=25, probabilities=(0.6, 0.3, 0.1))], "champion")
    # An older state arriving late does not replace the newer forecast.
    touched = made.add([live(4, minute=20, probabilities=(0.4, 0.4, 0.2))], "champion")
    assert touched == set()
    made.add([live(6, minute=88, probabilities=(0.7, 0.2, 0.1))], "champion")
    made.add([live(7, minute=90, status="finished")], "champion")  # forecasts no phase
    forecasts = made.forecasts("m1")
    assert set(forecasts) == {("3", "0-29"), ("3", "60+")}
    assert (forecasts[("3", "0-29")].seq, forecasts[("3", "0-29")].home) == (5, 0.6)
    assert forecasts[("3", "60+")].minute == 88


def test_the_bound_drops_the_oldest_but_never_a_forecast_or_the_pre_match_point() -> None:
    made = outputs(limit=5)
    made.add([answer(None, request_id="pre")], "champion")
    for seq in range(10):
        made.add([live(seq, minute=seq * 10)], "champion")
    # Worked by hand, limit 5 over pre, seq 0..9 at minutes 0, 10, .., 90. Never dropped:
    # pre (phase pre), seq 2 (the last of 0-29), 5 (of 30-59), 9 (of 60+). Each add past the
    # bound drops the oldest other point: 0, 1, 3, 4, 6, 7 in turn, leaving 8.
    assert [p.seq for p in made.timeline("m1")] == [None, 2, 5, 8, 9]
    assert made.pre_match("m1") is not None and made.pre_match("m1").status == "scheduled"  # type: ignore[union-attr]
    dropped = [r for r in made.writer.take() if r.value is None]
    assert len(dropped) == 6, "a dropped point is a tombstone on the changelog"

    # A challenger has a bound of its own: its points do not push the champion's out.
    for seq in range(10, 13):
        made.add([live(seq, minute=95, version="4", alias="challenger")], "challenger")
    assert [p.seq for p in made.timeline("m1")] == [None, 2, 5, 8, 9]
    assert made.forecasts("m1")[("4", "60+")].seq == 12


def test_the_bound_holds_through_the_tables_bytes() -> None:
    """What a restart reads back: the store and its listing, through a new writer."""
    writer, listing = match_keyed_table()
    made = MatchOutputs(writer, listing, limit=5)
    made.add([answer(None)], "champion")
    made.add([live(seq, minute=min(seq, 130)) for seq in range(20)], "champion")
    again = MatchOutputs(TableWriter(listing, InMemorySender(), key_bytes, lambda _: 0), listing)
    assert again.timeline("m1") == made.timeline("m1") and len(made.timeline("m1")) == 5
    assert again.forecasts("m1") == made.forecasts("m1")


def test_forgetting_a_match_deletes_each_of_its_outputs() -> None:
    made = outputs()
    made.add([live(1), live(2, match_id="m2")], "champion")
    made.add([live(1, version="4", alias="challenger")], "challenger")
    made.writer.take()
    made.forget("m1")
    assert made.match_ids() == ["m2"] and made.timeline("m1") == []
    assert made.forecasts("m1") == {} and made.newest_at("m1") is None
    tombstones = made.writer.take()
    assert len(tombstones) == 2 and all(r.value is None for r in tombstones)


def test_newest_at_is_when_the_last_new_output_was_made() -> None:
    made = outputs()
    later = READ_AT + dt.timedelta(minutes=20)
    made.add([live(5, at=later)], "champion")
    made.add([live(4)], "champion")  # an older state, but the newest output made
    assert made.newest_at("m1") == READ_AT
    made.add([live(6, at=later)], "challenger")
    assert made.newest_at("m1") == later

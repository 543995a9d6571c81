"""The goal forecasts on the wire (schemas 3.0.0): ``expected_goals``, ``scorelines`` and
``over_2_5`` on a prediction, ``expected_goals`` on a timeline point and a forecast, and
``goals_rps`` on a score. Every value here is written by hand."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import (
    MAX_SCORELINES,
    ExpectedGoals,
    Forecast,
    GoalForecastRow,
    MatchScore,
    Prediction,
    Scoreline,
    TimelinePoint,
)
from tests.factories import livescore, model_ref, request

TS = dt.datetime(2024, 6, 14, 19, 0, tzinfo=dt.UTC)
#: At 1-0 in the 10th minute (the factory's livescore): 2.3 and 0.8 goals expected in all.
GOALS = GoalForecastRow(
    expected_home=2.3,
    expected_away=0.8,
    scorelines=((2, 0, 0.16), (1, 0, 0.14), (2, 1, 0.13)),
    over_2_5=0.42,
)


def live(goals: GoalForecastRow | None = GOALS, **state: object) -> Prediction:
    return Prediction.for_livescore(
        livescore(**state), [0.6, 0.25, 0.15], model=model_ref(), features_version="v1",
        predicted_at=TS, goals=goals,
    )  # fmt: skip


def wire(prediction: Prediction) -> dict[str, Any]:
    return json.loads(prediction.model_dump_json())


# --- predictions -------------------------------------------------------------------------


def test_goal_forecasts_round_trip_through_json() -> None:
    prediction = live()
    body = wire(prediction)
    assert body["expected_goals"] == {"home": 2.3, "away": 0.8}
    assert body["scorelines"] == [
        {"home": 2, "away": 0, "probability": 0.16},
        {"home": 1, "away": 0, "probability": 0.14},
        {"home": 2, "away": 1, "probability": 0.13},
    ]
    assert body["over_2_5"] == 0.42
    assert Prediction.model_validate_json(prediction.model_dump_json()) == prediction
    assert prediction.expected_goals == ExpectedGoals(home=2.3, away=0.8)
    assert prediction.scorelines is not None
    assert prediction.scorelines[0] == Scoreline(home=2, away=0, probability=0.16)


def test_a_request_answered_pre_match_carries_goals_too() -> None:
    pre = GoalForecastRow(1.4, 1.1, ((1, 1, 0.12), (1, 0, 0.11)), 0.45)
    answer = Prediction.for_request(
        request(), [0.4, 0.3, 0.3], model=model_ref(), features_version="v1", received_at=TS,
        goals=pre,
    )  # fmt: skip
    assert (answer.status, answer.over_2_5) == ("scheduled", 0.45)
    assert answer.scorelines is not None and len(answer.scorelines) == 2


def test_without_goals_the_fields_are_left_out_as_2_0_0_wrote_them() -> None:
    prediction = live(goals=None)
    assert (prediction.expected_goals, prediction.scorelines, prediction.over_2_5) == (None,) * 3
    body = wire(prediction)
    assert not {"expected_goals", "scorelines", "over_2_5"} & body.keys()
    assert Prediction.model_validate_json(prediction.model_dump_json()) == prediction
    nulls = {**body, "expected_goals": None, "scorelines": None, "over_2_5": None}
    assert Prediction.model_validate_json(json.dumps(nulls)) == prediction


def test_a_certain_forecast_after_the_final_whistle() -> None:
    final = GoalForecastRow(2.0, 1.0, ((2, 1, 1.0),), 1.0)
    prediction = live(goals=final, status="finished", minute=90, home_goals=2, away_goals=1)
    assert prediction.scorelines == [Scoreline(home=2, away=1, probability=1.0)]


LINE = {"home": 1, "away": 0, "probability": 0.1}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"scorelines": [{**LINE, "probability": 0.1}, {**LINE, "home": 2, "probability": 0.2}]},
            "most likely first",
        ),
        ({"scorelines": [LINE, LINE]}, "scorelines must differ"),
        (
            {"scorelines": [{**LINE, "probability": 0.6}, {**LINE, "home": 2, "probability": 0.5}]},
            "sum to 1.1",
        ),
        (
            {"scorelines": [{**LINE, "home": h, "probability": 0.1} for h in range(1, 7)]},
            f"at most {MAX_SCORELINES} items",
        ),
        ({"scorelines": []}, "at least 1 item"),
        ({"scorelines": [{**LINE, "probability": 1.5}]}, "less than or equal to 1"),
        ({"scorelines": [{**LINE, "away": -1}]}, "greater than or equal to 0"),
        ({"scorelines": [{**LINE, "extra": 1}]}, "Extra inputs"),
        ({"expected_goals": {"home": -0.5, "away": 1.0}}, "greater than or equal to 0"),
        ({"expected_goals": {"home": float("inf"), "away": 1.0}}, "finite number"),
        ({"over_2_5": 1.2}, "less than or equal to 1"),
        ({"over_2_5": None}, "come together"),
        ({"scorelines": None}, "come together"),
        ({"expected_goals": None}, "come together"),
        # Computed for another row of the batch: below the 1-0 predicted for.
        ({"scorelines": [{"home": 0, "away": 0, "probability": 0.2}]}, "below the score"),
        ({"expected_goals": {"home": 0.9, "away": 0.8}}, "below the score"),
    ],
)
def test_goal_forecasts_that_break_the_rules_are_refused(
    changes: dict[str, Any], reason: str
) -> None:
    body = {**wire(live()), **changes}
    with pytest.raises(ValidationError, match=reason):
        Prediction.model_validate_json(json.dumps(body))


def test_equally_likely_scorelines_may_follow_each_other() -> None:
    tied = GoalForecastRow(2.0, 1.0, ((1, 0, 0.13), (2, 0, 0.13), (1, 1, 0.13)), 0.4)
    assert live(goals=tied).scorelines is not None


def test_over_2_5_is_certain_once_three_goals_are_scored() -> None:
    scored = GoalForecastRow(3.5, 0.2, ((3, 0, 0.5),), 0.99)
    with pytest.raises(ValidationError, match="over_2_5 must be 1"):
        live(goals=scored, home_goals=3)
    assert live(goals=GoalForecastRow(3.5, 0.2, ((3, 0, 0.5),), 1.0), home_goals=3).over_2_5 == 1


# --- what the read models keep ------------------------------------------------------------


def point(**changes: Any) -> TimelinePoint:
    body = {
        "at": TS, "trigger": "livescore", "seq": 4, "status": "live", "minute": 30,
        "home_goals": 1, "away_goals": 0, "home": 0.6, "draw": 0.25, "away": 0.15,
        "version": "7",
    } | changes  # fmt: skip
    return TimelinePoint.model_validate(body)


def test_a_timeline_point_keeps_the_expected_goals_and_reads_old_points_without() -> None:
    with_goals = point(expected_goals={"home": 2.3, "away": 0.8})
    again = TimelinePoint.model_validate_json(with_goals.model_dump_json())
    assert again.expected_goals == ExpectedGoals(home=2.3, away=0.8)
    old = json.loads(point().model_dump_json())
    assert "expected_goals" not in old  # as 2.0.0 wrote it
    assert TimelinePoint.model_validate_json(json.dumps(old)).expected_goals is None


def forecast(**changes: Any) -> Forecast:
    body = {"home": 0.6, "draw": 0.25, "away": 0.15, "minute": 30, "seq": 4, "at": TS}
    return Forecast.model_validate(body | changes)


def test_a_forecast_gives_the_goals_still_to_come() -> None:
    expected = {"home": 2.3, "away": 0.8}
    to_come = forecast(expected_goals=expected, home_goals=1, away_goals=0).goals_to_come
    assert to_come == pytest.approx((1.3, 0.8))
    # A goal ruled out after the forecast leaves nothing negative to come.
    late = forecast(expected_goals={"home": 1.0, "away": 0.5}, home_goals=1, away_goals=1)
    assert late.goals_to_come == (0.0, 0.0)
    assert forecast().goals_to_come is None
    with pytest.raises(ValidationError, match="need the score"):
        forecast(expected_goals=expected)


def score(**changes: Any) -> MatchScore:
    body = {
        "match_id": "m1", "model_version": "7", "phase": "pre", "date": "2024-06-14",
        "home": 0.6, "draw": 0.25, "away": 0.15, "outcome": "home", "log_loss": 0.51,
        "brier": 0.23, "rps": 0.1, "scored_at": "2024-06-14T21:00:00Z",
    } | changes  # fmt: skip
    return MatchScore.model_validate_json(json.dumps(body))


def test_a_score_carries_the_rps_of_total_goals_when_there_was_a_goal_forecast() -> None:
    without = score()  # as 2.0.0 wrote it, or a forecast without goals
    assert without.goals_rps is None
    assert "goals_rps" not in json.loads(without.model_dump_json())  # 2.x workers read it
    scored = score(goals_rps=0.27)
    assert MatchScore.model_validate_json(scored.model_dump_json()).goals_rps == 0.27
    with pytest.raises(ValidationError, match="goals_rps"):
        score(goals_rps=-0.1)

"""Unit tests of ratings, team features (no look-ahead), in-play rows and the model pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.data import MatchData
from models.elo import HOME_ADVANTAGE, INITIAL_RATING, goal_multiplier, rating_change
from models.feature_tables import model_input
from models.features import FORM_WINDOW, compute_features
from models.states import inplay_eligible, state_rows
from models.synthetic import generate_matches
from models.tournaments import tournament_weight
from models.training import build_dataset, fit_model
from schemas import OUTCOMES
from schemas.features import MODEL_INPUT_COLUMNS, NEW_TEAM_FEATURES, TEAM_FEATURE_COLUMNS

FEATURES = [f"{side}_{c}" for side in ("home", "away") for c in TEAM_FEATURE_COLUMNS]


def results(*rows: tuple[str, str, str, int, int]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["date", "home_team", "away_team", "home_score", "away_score"]
    )
    frame["date"] = pd.to_datetime(frame["date"])
    frame["tournament"] = "Friendly"
    frame["neutral"] = False
    return frame


@pytest.fixture(scope="module")
def synthetic() -> MatchData:
    return generate_matches(1500, seed=11)


def test_changing_a_future_result_leaves_earlier_features_alone(synthetic: MatchData) -> None:
    original = compute_features(synthetic.results).prematch
    cut = original["date"].iloc[len(original) // 2]
    changed_results = synthetic.results.copy()
    future = changed_results.index[changed_results["date"] >= cut]
    changed_results.loc[future, "home_score"] += 3  # rewrite every later result
    changed = compute_features(changed_results).prematch

    before = original["date"] <= cut  # includes the day of the first changed match
    pd.testing.assert_frame_equal(original.loc[before, FEATURES], changed.loc[before, FEATURES])
    after = original["date"] > cut
    assert not original.loc[after, FEATURES].equals(changed.loc[after, FEATURES])


def test_matches_on_the_same_day_do_not_see_each_other() -> None:
    same_day = results(
        ("2020-01-01", "A", "B", 3, 0),
        ("2020-01-01", "A", "C", 0, 0),
        ("2020-01-02", "A", "D", 0, 0),
    )
    pre = compute_features(same_day).prematch
    assert pre.loc[1, "home_elo"] == INITIAL_RATING  # A's win earlier that day is not seen
    assert pre.loc[1, "home_matches_played"] == 0
    assert pre.loc[2, "home_matches_played"] == 2  # the next day it is


def test_new_teams_start_from_the_contract_defaults() -> None:
    pre = compute_features(results(("2020-01-01", "A", "B", 1, 0))).prematch
    for side in ("home", "away"):
        for column, value in NEW_TEAM_FEATURES.items():
            assert pre.loc[0, f"{side}_{column}"] == value


def test_elo_update_follows_world_football_elo() -> None:
    # Equal teams, home side wins 1-0 at home in a friendly (K = 20).
    expected = 1 / (1 + 10 ** (-HOME_ADVANTAGE / 400))
    assert rating_change(1500, 1500, 1, 0, False, 20) == pytest.approx(20 * (1 - expected))
    # At a neutral venue a draw between equals changes nothing.
    assert rating_change(1500, 1500, 2, 2, True, 60) == 0
    assert [goal_multiplier(n) for n in (0, 1, 2, 3, 5)] == [1, 1, 1.5, 14 / 8, 16 / 8]
    assert [tournament_weight(t) for t in ("FIFA World Cup", "UEFA Euro", "Friendly")] == [
        60,
        50,
        20,
    ]
    assert tournament_weight("FIFA World Cup qualification") == 40
    assert tournament_weight("Some Invitational Cup") == 30


def test_ratings_are_zero_sum_and_form_uses_the_window() -> None:
    rows = [(f"2020-01-{i + 1:02d}", "A", "B", 2, 0) for i in range(FORM_WINDOW + 3)]
    history = compute_features(results(*rows))
    teams = history.teams
    assert teams["elo"].sum() == pytest.approx(2 * INITIAL_RATING)
    assert teams.loc["A", "form"] == 3.0 and teams.loc["B", "form"] == 0.0
    assert teams.loc["A", "goals_for"] == 2.0 and teams.loc["B", "goals_against"] == 2.0
    assert teams.loc["A", "matches_played"] == FORM_WINDOW + 3


def test_inplay_rows_only_from_covered_competitions() -> None:
    frame = results(
        ("2020-01-01", "A", "B", 1, 0),  # has its goal row
        ("2020-01-02", "A", "C", 0, 0),  # 0-0 in the same, covered, competition-year
        ("2020-01-03", "B", "C", 2, 1),  # no goal rows
        ("2020-01-04", "C", "D", 0, 0),  # 0-0 in that uncovered competition-year
    )
    frame["tournament"] = ["FIFA World Cup qualification"] * 2 + ["Gulf Cup"] * 2
    goals = pd.DataFrame(
        {
            "date": pd.to_datetime(["2020-01-01"]),
            "home_team": ["A"],
            "away_team": ["B"],
            "team": ["A"],
            "minute": [30.0],
        }
    )
    # Taking every 0-0 would over-sample draws from competitions without goal data.
    assert inplay_eligible(frame, goals).tolist() == [True, True, False, False]


def test_state_rows_have_the_model_columns_and_final_labels(synthetic: MatchData) -> None:
    history = compute_features(synthetic.results)
    eligible = inplay_eligible(history.prematch, synthetic.goals)
    rows = state_rows(history.prematch, synthetic.goals_by_match(), eligible)
    assert list(rows.columns[: len(MODEL_INPUT_COLUMNS)]) == list(MODEL_INPUT_COLUMNS)
    assert (rows["row_kind"] == "pre").sum() == len(synthetic.results)
    assert (rows[["home_red_cards", "away_red_cards"]] == 0).all().all()
    finals = rows[(rows["row_kind"] == "checkpoint") & (rows["minute"] == 90)]
    label = np.select(
        [finals["home_goals"] > finals["away_goals"], finals["home_goals"] == finals["away_goals"]],
        [0, 1],
        2,
    )
    assert (label == finals["outcome"]).all()  # synthetic goals are all in regular time


def test_pipeline_predicts_distributions_that_react_to_the_score(synthetic: MatchData) -> None:
    dataset = build_dataset(synthetic)
    model = fit_model(dataset.train_rows)
    teams = dataset.history.teams
    fixtures = pd.DataFrame(
        {
            "home_team": ["Brazil"] * 4 + ["Nowhere United"],
            "away_team": ["Peru"] * 4 + ["Brazil"],
            "neutral": [False] * 4 + [True],
            "tournament": ["Copa América"] * 4 + ["Not A Real Cup"],
            "minute": [0, 80, 80, 80, 10],
            "home_goals": [0, 2, 0, 0, 0],
            "away_goals": [0, 0, 0, 2, 0],
        }
    )
    proba = model.predict_proba(model_input(teams, fixtures))
    assert proba.shape == (5, len(OUTCOMES))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    home_win = proba[:, 0]
    assert home_win[1] > home_win[0] > home_win[3]  # 2-0 up late > kick-off > 0-2 down late
    assert proba[2, 1] > proba[0, 1]  # 0-0 at 80 minutes: a draw got likelier

"""Unit tests of the results loader (errors are one readable line) and the synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.data import GOAL_COLUMNS, RESULT_COLUMNS, DataError, load_results, write_csv
from models.synthetic import generate_matches
from models.timeline import match_timeline

RESULTS = """date,home_team,away_team,home_score,away_score,tournament,city,country,neutral
2024-06-14,Germany,Scotland,5,1,UEFA Euro,Munich,Germany,FALSE
2024-06-15,Hungary,Switzerland,1,3,UEFA Euro,Cologne,Germany,TRUE
"""
GOALS = """date,home_team,away_team,team,scorer,minute,own_goal,penalty
2024-06-14,Germany,Scotland,Germany,Florian Wirtz,10,FALSE,FALSE
2024-06-14,Germany,Scotland,Germany,Jamal Musiala,19,FALSE,FALSE
2024-06-14,Germany,Scotland,Germany,Kai Havertz,45,FALSE,TRUE
2024-06-14,Germany,Scotland,Germany,Niclas Füllkrug,68,FALSE,FALSE
2024-06-14,Germany,Scotland,Germany,Antonio Rüdiger,87,TRUE,FALSE
2024-06-14,Germany,Scotland,Germany,Emre Can,90,FALSE,FALSE
2024-06-15,Hungary,Switzerland,Switzerland,Kwadwo Duah,12,FALSE,FALSE
2024-06-15,Hungary,Switzerland,Switzerland,Michel Aebischer,45,FALSE,FALSE
2024-06-15,Hungary,Switzerland,Hungary,Barnabás Varga,66,FALSE,FALSE
2024-06-15,Hungary,Switzerland,Switzerland,Breel Embolo,NA,FALSE,FALSE
"""


def write(folder: Path, results: str = RESULTS, goals: str = GOALS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.csv").write_text(results, encoding="utf-8")
    (folder / "goalscorers.csv").write_text(goals, encoding="utf-8")
    return folder


def test_loads_typed_frames(tmp_path: Path) -> None:
    data = load_results(write(tmp_path))
    assert list(data.results.columns) == list(RESULT_COLUMNS)
    assert list(data.goals.columns) == list(GOAL_COLUMNS)
    assert data.results["date"].dtype == "datetime64[ns]"
    assert data.results["neutral"].tolist() == [False, True]
    assert data.results["home_score"].tolist() == [5, 1]
    assert np.isnan(data.goals["minute"].iloc[-1])  # "NA" is how the real file spells it
    # The path of results.csv itself works too.
    assert len(load_results(tmp_path / "results.csv").results) == 2


def test_own_goal_counts_for_the_team_credited(tmp_path: Path) -> None:
    data = load_results(write(tmp_path))
    goals = data.goals_by_match()["2024-06-14_germany_scotland"]
    # Rüdiger's own goal is credited to Scotland in the real data; here it is credited to
    # Germany, so it is a Germany goal whatever the scorer's team.
    assert [g.side for g in goals].count("home") == 6
    timeline = match_timeline(5, 1, goals)
    assert timeline[-1].home_goals == 5  # six home rows, final score 5: the latest is dropped


@pytest.mark.parametrize(
    ("results", "goals", "message"),
    [
        (RESULTS.replace("neutral", "venue"), GOALS, r"results\.csv: missing column\(s\) neutral"),
        (
            RESULTS.replace("2024-06-15", "2024-13-15"),
            GOALS,
            "line 3: unparsable date '2024-13-15'",
        ),
        (RESULTS.replace(",5,1,", ",five,1,"), GOALS, "line 2: home_score is not a score: 'five'"),
        (RESULTS.replace(",1,3,", ",1,-3,"), GOALS, "line 3: away_score is not a score: '-3'"),
        (RESULTS.replace("TRUE", "maybe"), GOALS, "line 3: neutral is not TRUE/FALSE: 'maybe'"),
        (RESULTS.replace("Germany,Scotland,5", ",Scotland,5"), GOALS, "line 2: empty home_team"),
        (RESULTS, GOALS.replace(",10,", ",ten,"), "line 2: minute is not a number: 'ten'"),
        (RESULTS, GOALS.replace("Switzerland,Kwadwo", "France,Kwadwo"), "line 8: team 'France'"),
        (RESULTS, GOALS.replace("2024-06-15,Hungary", "2024-06-16,Hungary"), "not in results"),
        (RESULTS, GOALS.replace("team,scorer", "side,scorer"), r"missing column\(s\) team"),
        ("", GOALS, "not a readable CSV"),
        ('date,home_team\n"2024-01-01,x\n', GOALS, "not a readable CSV"),
        (RESULTS.splitlines()[0] + "\n", GOALS, "no matches"),
    ],
)
def test_bad_files_raise_one_line(tmp_path: Path, results: str, goals: str, message: str) -> None:
    with pytest.raises(DataError, match=message) as caught:
        load_results(write(tmp_path, results, goals))
    assert "\n" not in str(caught.value)


def test_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or directory"):
        load_results(tmp_path / "nowhere")
    (tmp_path / "results.csv").write_text(RESULTS)
    with pytest.raises(DataError, match=r"goalscorers\.csv: no such file"):
        load_results(tmp_path)


def test_synthetic_data_is_deterministic_and_in_the_loader_format(tmp_path: Path) -> None:
    first, again, other = (generate_matches(400, seed) for seed in (3, 3, 4))
    pd.testing.assert_frame_equal(first.results, again.results)
    pd.testing.assert_frame_equal(first.goals, again.goals)
    assert not first.results.equals(other.results)
    # Written as CSV and loaded back, it is the same data: the loader accepts it as is.
    write_csv(first, tmp_path)
    loaded = load_results(tmp_path)
    pd.testing.assert_frame_equal(loaded.results, first.results, check_dtype=False)
    pd.testing.assert_frame_equal(loaded.goals, first.goals, check_dtype=False)


def test_synthetic_data_looks_like_football() -> None:
    data = generate_matches(3000, seed=1)
    results = data.results
    assert results["date"].is_monotonic_increasing
    assert results["date"].dt.year.nunique() >= 7  # spans years
    assert {"Friendly", "FIFA World Cup qualification", "FIFA World Cup", "UEFA Euro"} <= set(
        results["tournament"]
    )
    per_match = data.goals.groupby(["date", "home_team", "away_team"]).size()
    totals = results.set_index(["date", "home_team", "away_team"])
    totals = (totals["home_score"] + totals["away_score"]).groupby(level=[0, 1, 2]).sum()
    assert per_match.sum() == totals.sum()  # one goal row per goal
    home = results[~results["neutral"]]
    home_win = (home["home_score"] > home["away_score"]).mean()
    away_win = (home["home_score"] < home["away_score"]).mean()
    assert home_win > away_win + 0.1  # home advantage
    assert 2.0 < (results["home_score"] + results["away_score"]).mean() < 3.5
    assert data.goals["minute"].between(1, 90).mean() > 0.98

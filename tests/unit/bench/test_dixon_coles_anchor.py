"""The Dixon-Coles anchor's walk-forward (real penaltyblog, small synthetic seasons) and the
halves every season bench shares."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from penaltyblog.models import DixonColesGoalModel, dixon_coles_weights

from bench import dixon_coles_anchor as anchor
from bench import season_replay
from bench.dixon_coles_anchor import PROBA_COLUMNS, anchor_proba, main, walk_forward
from bench.halves import half_table, scores_by_half, season_halves
from models.data import load_results
from models.ids import match_id

DATA = Path(__file__).resolve().parents[3] / "data" / "international_results"
TEAMS = {"Avalon": 0.5, "Borduria": 0.3, "Carpania": 0.1, "Dorne": -0.1, "Elbonia": -0.3}
START = pd.Timestamp("2021-01-01")
#: Ten weekly periods: 2021-01-01 .. 2021-03-11.
END = START + pd.Timedelta(days=69)


def synthetic(seed: int = 0, home_advantage: float = 0.3) -> pd.DataFrame:
    """Two matches a day from 2020-01-01 through END, goals Poisson in the teams' strengths;
    a third of the matches on neutral ground."""
    rng = np.random.default_rng(seed)
    names = list(TEAMS)
    rows = []
    for date in pd.date_range("2020-01-01", END):
        # Four different teams a day: one match id per match.
        playing = rng.choice(names, size=4, replace=False)
        for home, away in (playing[:2], playing[2:]):
            neutral = bool(rng.random() < 1 / 3)
            edge = 0.0 if neutral else home_advantage
            rows.append(
                {
                    "date": date,
                    "home_team": home,
                    "away_team": away,
                    "home_score": int(rng.poisson(np.exp(0.2 + edge + TEAMS[home] - TEAMS[away]))),
                    "away_score": int(rng.poisson(np.exp(0.2 + TEAMS[away] - TEAMS[home]))),
                    "tournament": "Friendly",
                    "city": "",
                    "country": "",
                    "neutral": neutral,
                }
            )
    return pd.DataFrame(rows)


def walk(results: pd.DataFrame, **kwargs) -> pd.DataFrame:
    return walk_forward(results, START, END, refit_days=7, window_years=1, **kwargs)


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    return synthetic()


@pytest.fixture(scope="module")
def rows(results: pd.DataFrame) -> pd.DataFrame:
    return walk(results)


def independent_fit(results: pd.DataFrame, fitted_on: pd.Timestamp) -> DixonColesGoalModel:
    """penaltyblog used directly, from its own start: the matches of the year before."""
    window = results[
        (results["date"] >= fitted_on - pd.DateOffset(years=1)) & (results["date"] < fitted_on)
    ]
    model = DixonColesGoalModel(
        window["home_score"],
        window["away_score"],
        window["home_team"],
        window["away_team"],
        weights=dixon_coles_weights(window["date"], 0.0018),
        neutral_venue=window["neutral"].astype(int),
    )
    model.fit()
    return model


def test_one_row_per_season_match_with_probabilities_summing_to_one(
    results: pd.DataFrame, rows: pd.DataFrame
) -> None:
    in_season = results[(results["date"] >= START) & (results["date"] <= END)]
    assert len(rows) == len(in_season) == 140
    assert rows["match_id"].iloc[0] == (
        f"2021-01-01_{in_season['home_team'].iloc[0].lower()}_"
        f"{in_season['away_team'].iloc[0].lower()}"
    )
    proba = rows[list(PROBA_COLUMNS)].to_numpy()
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert ((proba > 0) & (proba < 1)).all()
    first = in_season.iloc[0]
    expected = int(np.sign(first.away_score - first.home_score)) + 1  # home 0, draw 1, away 2
    assert rows["outcome"].iloc[0] == expected


def test_refits_every_n_days_from_the_start(rows: pd.DataFrame) -> None:
    fits = sorted(rows["fitted_on"].unique())
    assert len(fits) == 10
    assert [pd.Timestamp(f) for f in fits] == [START + pd.Timedelta(days=7 * k) for k in range(10)]
    age = rows["date"] - rows["fitted_on"]
    assert (age >= pd.Timedelta(0)).all() and (age < pd.Timedelta(days=7)).all()


def test_a_period_without_matches_is_not_fitted(results: pd.DataFrame) -> None:
    gap = (results["date"] >= START + pd.Timedelta(days=14)) & (
        results["date"] < START + pd.Timedelta(days=21)
    )
    fewer = walk_forward(
        results[~gap], START, START + pd.Timedelta(days=27), refit_days=7, window_years=1
    )
    assert sorted(pd.Timestamp(f) for f in fewer["fitted_on"].unique()) == [
        START,
        START + pd.Timedelta(days=7),
        START + pd.Timedelta(days=21),
    ]


def test_never_uses_a_result_on_or_after_the_refit_date(
    results: pd.DataFrame, rows: pd.DataFrame
) -> None:
    cut = START + pd.Timedelta(days=28)
    changed = results.copy()
    later = changed["date"] >= cut
    # Every later match becomes a rout of the weakest side over the strongest.
    changed.loc[later, ["home_score", "away_score"]] = [0, 6]
    again = walk(changed)
    before = (rows["fitted_on"] <= cut).to_numpy()
    columns = list(PROBA_COLUMNS)
    assert (rows["date"][before] >= cut).any(), "the fit made on the cut predicts its own day"
    pd.testing.assert_frame_equal(rows.loc[before, columns], again.loc[before, columns])
    assert not np.allclose(rows.loc[~before, columns], again.loc[~before, columns], atol=0.01)


def test_each_fit_agrees_with_penaltyblog_fitted_directly(
    results: pd.DataFrame, rows: pd.DataFrame
) -> None:
    # Window, decay weights, neutral flags and the warm start all end at penaltyblog's own
    # optimum: the matches fitted on the 2021-01-29 refit, predicted by a fresh model.
    fitted_on = START + pd.Timedelta(days=28)
    model = independent_fit(results, fitted_on)
    mine = rows[rows["fitted_on"] == fitted_on]
    expected = np.array(
        [
            model.predict(r.home_team, r.away_team, neutral_venue=r.neutral).home_draw_away
            for r in mine.itertuples()
        ]
    )
    assert np.abs(mine[list(PROBA_COLUMNS)].to_numpy() - expected).max() < 2e-3


def test_a_neutral_match_has_no_home_advantage(results: pd.DataFrame) -> None:
    # Inside one weekly period: A v B neutral, B v A neutral, A v B at A's ground.
    day = START + pd.Timedelta(days=36)
    extra = pd.DataFrame(
        [
            {"date": day + pd.Timedelta(days=d), "home_team": h, "away_team": a, "neutral": n}
            for d, h, a, n in [
                (0, "Avalon", "Dorne", True),
                (1, "Dorne", "Avalon", True),
                (2, "Avalon", "Dorne", False),
            ]
        ]
    ).assign(home_score=1, away_score=1, tournament="Friendly", city="", country="")
    # Those three days hold only these matches (the fit, made before them, is unchanged).
    others = results[~results["date"].between(day, day + pd.Timedelta(days=2))]
    both = pd.concat([others, extra], ignore_index=True)
    got = walk_forward(both, day, day + pd.Timedelta(days=2), refit_days=7, window_years=1)
    assert len(got) == 3 and got["fitted_on"].nunique() == 1
    neutral_ad, neutral_da, home_ad = got[list(PROBA_COLUMNS)].to_numpy()
    # Neutral: swapping the sides swaps home and away exactly.
    assert neutral_ad[0] == pytest.approx(neutral_da[2], abs=1e-12)
    assert neutral_ad[1] == pytest.approx(neutral_da[1], abs=1e-12)
    # At A's ground A gains (the synthetic home advantage is exp(0.3)).
    assert home_ad[0] > neutral_ad[0] + 0.03


def test_a_match_with_a_team_never_seen_gets_a_third_each(results: pd.DataFrame) -> None:
    day = START + pd.Timedelta(days=3)
    newcomers = pd.DataFrame(
        [
            {"date": day, "home_team": "Freedonia", "away_team": "Avalon", "neutral": False},
            {"date": day, "home_team": "Dorne", "away_team": "Sylvania", "neutral": True},
        ]
    ).assign(home_score=0, away_score=2, tournament="Friendly", city="", country="")
    # Sylvania also played before, but only after the refit date of its match's fit.
    late = newcomers.iloc[[1]].assign(date=START + pd.Timedelta(days=1), home_team="Elbonia")
    got = walk_forward(
        pd.concat([results, newcomers, late], ignore_index=True),
        START,
        day,
        refit_days=7,
        window_years=1,
    )
    strangers = got["home_team"].eq("Freedonia") | got["away_team"].eq("Sylvania")
    assert strangers.sum() == 3
    assert np.array_equal(
        got.loc[strangers, list(PROBA_COLUMNS)].to_numpy(), np.full((3, 3), 1 / 3)
    )
    assert (got.loc[~strangers, "p_home"] != 1 / 3).all()


def test_anchor_proba_follows_the_asked_match_ids(rows: pd.DataFrame) -> None:
    ids = list(rows["match_id"].iloc[[5, 0, 3]])
    expected = rows[list(PROBA_COLUMNS)].to_numpy()[[5, 0, 3]]
    assert np.array_equal(anchor_proba(rows, ids), expected)
    with pytest.raises(ValueError, match="no prediction for 1 matches"):
        anchor_proba(rows, [*ids, "2021-01-01_nowhere_noland"])
    with pytest.raises(ValueError, match="more than once"):
        anchor_proba(pd.concat([rows, rows.iloc[[0]]]), ids)


def test_halves_split_before_the_middle_match_date() -> None:
    days = pd.to_datetime(["2023-01-01", "2023-01-01", "2023-01-02", "2023-01-02", "2023-01-02"])
    middle, first = season_halves(pd.Series(days))
    assert middle == pd.Timestamp("2023-01-02")
    assert first.tolist() == [True, True, False, False, False]
    middle, first = season_halves(pd.Series(days[:4]))
    assert middle == pd.Timestamp("2023-01-02") and first.tolist() == [True, True, False, False]
    with pytest.raises(ValueError):
        season_halves(pd.Series([], dtype="datetime64[ns]"))


def test_season_replay_splits_and_scores_with_the_shared_halves() -> None:
    assert season_replay.season_halves is season_halves
    assert season_replay.scores_by_half is scores_by_half


def test_scores_by_half_and_the_table() -> None:
    proba = np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    labels = np.array([0, 0, 1])
    got = scores_by_half(proba, labels, np.array([True, False, False]))
    assert got.first.n == 1 and got.second.n == 2
    assert got.first.log_loss == pytest.approx(-math.log(0.5))
    assert got.second.log_loss == pytest.approx((-math.log(0.2) - math.log(1 / 3)) / 2)
    # RPS of [0.2, 0.3, 0.5] when home won: ((0.2 - 1)^2 + (0.5 - 1)^2) / 2 = 0.445.
    assert got.second.rps == pytest.approx((0.445 + (1 / 9 + 1 / 9) / 2) / 2)
    flat = scores_by_half(np.full((3, 3), 1 / 3), labels, np.array([True, False, False]))
    lines = half_table({"a": got, "flat": flat}, [("a", "flat")])
    assert len(lines) == 4
    assert lines[1].split()[1:3] == [f"{got.whole.log_loss:.4f}", f"{got.whole.rps:.4f}"]
    diff = lines[3].split()
    assert diff[:3] == ["a", "minus", "flat"]
    assert float(diff[3]) == pytest.approx(got.whole.log_loss - math.log(3), abs=1e-4)


@pytest.mark.parametrize(
    "argv",
    [
        ["--refit-days", "0"],
        ["--refit-days", "week"],
        ["--data", "/nowhere/at/all"],
        ["--rows", "/nowhere/at/all/rows.csv"],
    ],
)
def test_bad_arguments_are_one_error_line(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")


@pytest.mark.skipif(not (DATA / "results.csv").exists(), reason="no real data in this checkout")
def test_real_data_euro_2024() -> None:
    # The real matches among the 24 teams of Euro 2024 only: a few dozen parameters, so the
    # two monthly fits take seconds (one fit over every team takes minutes).
    results = load_results(DATA).results
    euro = results[(results["tournament"] == "UEFA Euro") & (results["date"].dt.year == 2024)]
    teams = set(euro["home_team"]) | set(euro["away_team"])
    among = results[results["home_team"].isin(teams) & results["away_team"].isin(teams)]
    started = time.monotonic()
    got = walk_forward(among, "2024-06-14", "2024-07-14", refit_days=30, window_years=3)
    assert time.monotonic() - started < 20
    assert len(teams) == 24 and len(euro) == 51
    assert set(euro.apply(lambda r: match_id(r.date, r.home_team, r.away_team), axis=1)) <= set(
        got["match_id"]
    )
    assert [str(d.date()) for d in sorted(got["fitted_on"].unique().astype("M8[ns]"))] == [
        "2024-06-14",
        "2024-07-14",
    ]
    assert np.allclose(got[list(PROBA_COLUMNS)].sum(axis=1), 1.0)
    opener = got[got["match_id"] == "2024-06-14_germany_scotland"].iloc[0]
    assert not opener["neutral"] and opener["p_home"] > 0.5, "the hosts were favourites"
    final = got[got["match_id"] == "2024-07-14_spain_england"].iloc[0]
    assert final["neutral"] and final["outcome"] == 0


def test_season_replay_scores_the_anchor_on_the_season_matches_by_id(
    results: pd.DataFrame, rows: pd.DataFrame
) -> None:
    season = results[(results["date"] >= START) & (results["date"] <= END)].reset_index(drop=True)
    # The anchor's rows in another order, with a match the season does not hold.
    stranger = rows.iloc[[0]].assign(match_id="2021-01-01_nowhere_noland", p_home=0.99)
    anchor = pd.concat([rows.iloc[::-1], stranger], ignore_index=True)
    _, first = season_halves(season["date"])
    lines = season_replay.anchor_table(
        season, {"flat": np.full((len(season), 3), 1 / 3)}, {"dc": anchor}, first
    )
    assert [line.split()[0] for line in lines] == ["predictor", "flat", "dc", "flat"]
    flat, dc, diff = ([float(x) for x in line.split()[-6:]] for line in lines[1:])
    assert flat[::2] == pytest.approx([math.log(3)] * 3, abs=1e-4)
    # The anchor's own numbers, worked out here per half from its rows in season order.
    p = rows[list(PROBA_COLUMNS)].to_numpy()
    won = np.eye(3)[np.sign(season["away_score"] - season["home_score"]).to_numpy() + 1]
    loss = -np.log((p * won).sum(axis=1))
    rps = (((np.cumsum(p, axis=1) - np.cumsum(won, axis=1))[:, :2] ** 2).sum(axis=1)) / 2
    for part, mask in enumerate([np.ones(len(season), bool), first, ~first]):
        assert dc[2 * part] == pytest.approx(loss[mask].mean(), abs=1e-4)
        assert dc[2 * part + 1] == pytest.approx(rps[mask].mean(), abs=1e-4)
        assert diff[2 * part] == pytest.approx(math.log(3) - loss[mask].mean(), abs=2e-4)


def test_a_warm_start_that_does_not_converge_is_fitted_again_cold(
    results: pd.DataFrame, rows: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(anchor, "WARM_MAX_ITERATIONS", 1)
    lines: list[str] = []
    again = walk(results, progress=lines.append)
    restarted = [line for line in lines if "again from penaltyblog's start" in line]
    assert len(restarted) == 9, "every fit after the first"
    assert lines[0] == "140 matches, 10 fits, every 7 days"
    columns = list(PROBA_COLUMNS)
    assert np.abs(again[columns].to_numpy() - rows[columns].to_numpy()).max() < 2e-3

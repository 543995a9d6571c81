"""Team ratings from the stream fold results exactly as training does, in any arrival order."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pandas as pd
import pytest

from models.feature_tables import export_feature_tables
from models.features import Result, apply_result, compute_features
from models.ids import match_id
from models.synthetic import generate_matches
from schemas import MatchResult
from schemas.features import TEAM_FEATURE_COLUMNS
from streams.live.feature_snapshot import FeatureSnapshot, load_snapshot
from streams.live.team_ratings import TeamRatings

SPLIT = 500
EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def as_results(frame: pd.DataFrame) -> list[MatchResult]:
    """The rows as results topic records; ``finished_at`` follows the row order, as a
    feed replaying the file would stamp them."""
    return [
        MatchResult(
            match_id=match_id(row.date, row.home_team, row.away_team),
            seq=3,
            date=row.date.date(),
            finished_at=EPOCH + dt.timedelta(seconds=i),
            home_team=row.home_team,
            away_team=row.away_team,
            neutral=bool(row.neutral),
            tournament=row.tournament,
            home_goals=int(row.home_score),
            away_goals=int(row.away_score),
        )
        for i, row in enumerate(frame.itertuples(index=False))
    ]


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, FeatureSnapshot]:
    results = generate_matches(800, seed=5).results
    results = results.drop_duplicates(["date", "home_team", "away_team"]).reset_index(drop=True)
    folder = tmp_path_factory.mktemp("snapshot")
    export_feature_tables(compute_features(results.iloc[:SPLIT]), folder)
    return results, load_snapshot(folder)


def folded(snapshot: FeatureSnapshot, results: list[MatchResult]) -> TeamRatings:
    ratings = TeamRatings()
    ratings.rebase(snapshot)
    for result in results:
        ratings.offer(result)
    return ratings


def assert_same_as_training(ratings: TeamRatings, results: pd.DataFrame) -> None:
    trained = compute_features(results).teams[list(TEAM_FEATURE_COLUMNS)]
    served = pd.DataFrame.from_dict(ratings.current(), orient="index", columns=trained.columns)
    served.index.name = "team"
    pd.testing.assert_frame_equal(served.sort_index(), trained, rtol=0, atol=1e-9)


def test_the_stream_reaches_the_training_features(
    season: tuple[pd.DataFrame, FeatureSnapshot],
) -> None:
    results, snapshot = season
    ratings = folded(snapshot, as_results(results.iloc[SPLIT:]))
    assert ratings.applied == len(results) - SPLIT
    assert ratings.version == f"{snapshot.version}+{len(results) - SPLIT}"
    assert_same_as_training(ratings, results)


def test_arrival_order_does_not_matter(season: tuple[pd.DataFrame, FeatureSnapshot]) -> None:
    results, snapshot = season
    shuffled = as_results(results.iloc[SPLIT:])
    random.Random(1).shuffle(shuffled)
    assert_same_as_training(folded(snapshot, shuffled), results)


def test_redelivery_counts_once_and_a_correction_replaces(
    season: tuple[pd.DataFrame, FeatureSnapshot],
) -> None:
    results, snapshot = season
    stream = as_results(results.iloc[SPLIT : SPLIT + 60])
    ratings = folded(snapshot, stream)
    target = stream[10]
    assert [ratings.offer(target) for _ in range(3)] == ["duplicate"] * 3
    assert ratings.applied == 60

    corrected = target.model_copy(update={"seq": 9, "home_goals": target.home_goals + 2})
    assert ratings.offer(corrected) == "corrected"
    assert ratings.offer(target) == "stale", "the older version, re-delivered, stays replaced"
    fixed = results.iloc[: SPLIT + 60].copy()
    fixed.loc[SPLIT + 10, "home_score"] += 2
    assert_same_as_training(ratings, fixed)


def test_results_already_in_the_snapshot_are_not_applied_twice(
    season: tuple[pd.DataFrame, FeatureSnapshot], tmp_path: Path
) -> None:
    results, snapshot = season
    stream = as_results(results.iloc[SPLIT - 20 :])  # 20 the snapshot already holds
    ratings = folded(snapshot, stream)
    assert ratings.applied == len(results) - SPLIT
    assert_same_as_training(ratings, results)

    # A retrain lands with 150 more results: those leave the fold, the rest apply on top.
    export_feature_tables(compute_features(results.iloc[: SPLIT + 150]), tmp_path)
    retrained = load_snapshot(tmp_path)
    ratings.rebase(retrained)
    assert ratings.applied == len(results) - SPLIT - 150
    assert ratings.version.startswith(retrained.version + "+")
    assert_same_as_training(ratings, results)


def test_results_read_before_the_snapshot_wait_for_it(
    season: tuple[pd.DataFrame, FeatureSnapshot],
) -> None:
    results, snapshot = season
    ratings = TeamRatings()
    assert {ratings.offer(r) for r in as_results(results.iloc[SPLIT:])} == {"pending"}
    ratings.rebase(snapshot)
    assert_same_as_training(ratings, results)


def test_lookups_are_point_in_time(season: tuple[pd.DataFrame, FeatureSnapshot]) -> None:
    results, snapshot = season
    later = results.iloc[SPLIT:]
    ratings = folded(snapshot, as_results(later))
    training = compute_features(results).prematch.iloc[SPLIT:]
    for row in training.itertuples(index=False):
        home, _ = ratings.team_at(row.home_team, row.date.date())
        away, _ = ratings.team_at(row.away_team, row.date.date())
        assert home == pytest.approx([getattr(row, f"home_{c}") for c in TEAM_FEATURE_COLUMNS])
        assert away == pytest.approx([getattr(row, f"away_{c}") for c in TEAM_FEATURE_COLUMNS])


def test_unknown_teams_and_rating_changes_are_reported(
    season: tuple[pd.DataFrame, FeatureSnapshot],
) -> None:
    _, snapshot = season
    ratings = folded(snapshot, [])
    assert ratings.team_at("Atlantis", dt.date(2030, 1, 1)) == (
        (1500.0, 1.0, 1.3, 1.3, 0.0, 0.0, 0.0),
        False,
    )
    newcomer = MatchResult(
        match_id="x",
        seq=1,
        date=dt.date(2030, 1, 1),
        finished_at=EPOCH,
        home_team="Atlantis",
        away_team="Lemuria",
        neutral=True,
        tournament="Friendly",
        home_goals=2,
        away_goals=0,
    )
    assert ratings.offer(newcomer) == "applied"
    (applied,) = ratings.recent
    assert applied.home_elo[0] == 1500.0 and applied.home_elo[1] > 1500.0
    assert applied.away_elo[1] == pytest.approx(3000.0 - applied.home_elo[1])
    assert ratings.team_at("Atlantis", dt.date(2030, 1, 1))[1], "known once it has played"
    assert ratings.team_at("Atlantis", dt.date(2030, 1, 2))[0][0] == applied.home_elo[1]


def test_elo_change_of_an_applied_result(season: tuple[pd.DataFrame, FeatureSnapshot]) -> None:
    results, snapshot = season
    later = as_results(results.iloc[SPLIT:])
    ratings = folded(snapshot, later)
    assert ratings.elo_change(later[0].match_id) is not None
    first = later[0]
    before = folded(snapshot, []).team_at(first.home_team, first.date)[0][0]
    after = folded(snapshot, [first]).team_at(first.home_team, dt.date(2100, 1, 1))[0][0]
    home, away = ratings.elo_change(first.match_id) or ((0.0, 0.0), (0.0, 0.0))
    assert home == (before, after), "kept from the fold, long after the result came"
    # Elo moves as much as it takes from the other side (a zero-sum exchange).
    assert home[1] - home[0] == pytest.approx(away[0] - away[1])
    assert ratings.elo_change("never-played") is None
    in_snapshot = as_results(results.iloc[:1])[0]
    assert ratings.offer(in_snapshot) == "in_snapshot"
    assert ratings.elo_change(in_snapshot.match_id) is None


def test_the_rating_change_is_the_folds_own_when_a_team_plays_twice_on_one_date(
    season: tuple[pd.DataFrame, FeatureSnapshot],
) -> None:
    """A tournament day can have a team play twice (a replay, a feed with a wrong date): the
    second match's "before" is the first match's "after", not the rating the day began with."""
    _, snapshot = season
    assert snapshot.states is not None
    home, first_away, second_away = sorted(snapshot.states)[:3]
    day = dt.date(2031, 3, 1)

    def result(match: str, away: str, goals: tuple[int, int], minute: int) -> MatchResult:
        return MatchResult(
            match_id=match,
            seq=1,
            date=day,
            finished_at=EPOCH + dt.timedelta(minutes=minute),
            home_team=home,
            away_team=away,
            neutral=False,
            tournament="Friendly",
            home_goals=goals[0],
            away_goals=goals[1],
        )

    early = result("early", first_away, (3, 0), 0)
    late = result("late", second_away, (0, 2), 120)

    # The oracle: models.features.apply_result on a copy of the snapshot's states, in the
    # fold's order (by date, then when the match finished).
    states = {name: state.copy() for name, state in snapshot.states.items()}
    expected = {}
    for r in (early, late):
        before = (states[r.home_team].elo, states[r.away_team].elo)
        apply_result(
            states,
            Result(r.home_team, r.away_team, r.home_goals, r.away_goals, r.neutral, r.tournament),
        )
        after = (states[r.home_team].elo, states[r.away_team].elo)
        expected[r.match_id] = ((before[0], after[0]), (before[1], after[1]))
    assert expected["late"][0][0] == expected["early"][0][1] != expected["early"][0][0]

    for arrival in ([early, late], [late, early]):  # in order, and late first (a refold)
        ratings = folded(snapshot, arrival)
        assert {m: ratings.elo_change(m) for m in expected} == expected, arrival

    # A correction of the first match refolds: the second's "before" follows it.
    ratings = folded(snapshot, [early, late])
    corrected = early.model_copy(update={"seq": 2, "home_goals": 0, "away_goals": 1})
    assert ratings.offer(corrected) == "corrected"
    changes = ratings.elo_change("early"), ratings.elo_change("late")
    assert changes[0] is not None and changes[1] is not None
    assert changes[1][0][0] == changes[0][0][1] < changes[0][0][0], "the home side lost now"

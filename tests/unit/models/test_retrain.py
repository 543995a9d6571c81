"""Unit tests of retraining from the stream: merging the results topic into the base data
(which result wins, what is counted), and the command's refusals, one line and exit 2."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from devstack.supervisor import free_port
from models.cli import main
from models.data import MatchData, load_results
from models.registry_probe import check_registry, shown_uri
from models.retrain import SHOWN_CONFLICTS, describe, merge_results, results_frame
from schemas import MatchResult
from tests.factories import result
from tests.unit.models.test_data import GOALS, RESULTS, write

TOPIC = "soccerpredict-results"


@pytest.fixture
def base(tmp_path: Path) -> MatchData:
    """Germany 5-1 Scotland (2024-06-14) and Hungary 1-3 Switzerland (2024-06-15)."""
    return load_results(write(tmp_path / "base"))


def value(record: MatchResult) -> bytes:
    return record.model_dump_json().encode()


def new_match(**overrides: object) -> MatchResult:
    """Spain 3-0 Croatia on 2024-06-15: not in the base data."""
    fields = {
        "match_id": "2024-06-15_spain_croatia",
        "date": "2024-06-15",
        "finished_at": "2024-06-15T17:55:00Z",
        "home_team": "Spain",
        "away_team": "Croatia",
        "home_goals": 3,
        "away_goals": 0,
        "neutral": True,
    }
    return result(**(fields | overrides))


def scores(data: MatchData) -> dict[tuple[str, str, str], tuple[int, int]]:
    r = data.results
    return {
        (d.date().isoformat(), h, a): (int(hs), int(as_))
        for d, h, a, hs, as_ in zip(
            r["date"], r["home_team"], r["away_team"], r["home_score"], r["away_score"], strict=True
        )
    }


def test_a_new_result_is_added_and_the_base_data_is_kept(base: MatchData) -> None:
    merged = merge_results(base, [value(new_match())])
    assert scores(merged.data) == {
        ("2024-06-14", "Germany", "Scotland"): (5, 1),
        ("2024-06-15", "Hungary", "Switzerland"): (1, 3),
        ("2024-06-15", "Spain", "Croatia"): (3, 0),
    }
    added = merged.data.results.iloc[-1]
    assert (added["tournament"], bool(added["neutral"])) == ("UEFA Euro", True)
    assert merged.data.goals.equals(base.goals), "the topic has no goal minutes to add"
    assert merged.counts.model_dump() == {
        "records": 1,
        "unreadable": 0,
        "superseded": 0,
        "results": 1,
        "in_base": 0,
        "conflicting": 0,
        "added": 1,
    }


def test_merged_results_keep_the_loader_types_and_date_order(base: MatchData) -> None:
    early = new_match(
        match_id="2024-06-13_italy_albania",
        date="2024-06-13",
        finished_at="2024-06-13T21:00:00Z",
        home_team="Italy",
        away_team="Albania",
    )
    merged = merge_results(base, [value(new_match()), value(early)]).data.results
    assert merged.dtypes.to_dict() == base.results.dtypes.to_dict()
    assert merged["date"].is_monotonic_increasing
    # On one date the base data's match comes first, as the loader left it.
    assert merged["home_team"].tolist() == ["Italy", "Germany", "Hungary", "Spain"]


def test_a_match_in_the_base_data_counts_once_and_the_base_score_wins(base: MatchData) -> None:
    same = result(match_id="2024-06-14_germany_scotland", home_goals=5, away_goals=1)
    other = result(
        match_id="2024-06-15_hungary_switzerland",
        date="2024-06-15",
        home_team="Hungary",
        away_team="Switzerland",
        home_goals=2,
        away_goals=2,
    )
    merged = merge_results(base, [value(same), value(other)])
    assert len(merged.data.results) == 2
    assert scores(merged.data)[("2024-06-15", "Hungary", "Switzerland")] == (1, 3)
    assert (merged.counts.in_base, merged.counts.conflicting, merged.counts.added) == (1, 1, 0)
    [conflict] = merged.conflicts
    assert (conflict.match_id, conflict.base, conflict.topic) == (
        "2024-06-15_hungary_switzerland",
        (1, 3),
        (2, 2),
    )


def test_the_base_data_is_matched_by_date_and_teams_not_by_the_producers_key(
    base: MatchData,
) -> None:
    # Another producer keys the same match its own way: still the base data's match.
    feed = result(match_id="feed-98231", home_goals=5, away_goals=1)
    merged = merge_results(base, [value(feed)])
    assert (merged.counts.in_base, merged.counts.added) == (1, 0)


def test_a_correction_replaces_the_earlier_result_and_a_stale_one_does_not(
    base: MatchData,
) -> None:
    first = new_match(seq=4, home_goals=1)
    corrected = new_match(seq=5, home_goals=2)
    stale = new_match(seq=3, home_goals=7)  # re-delivered late: a lower seq
    merged = merge_results(base, [value(first), value(corrected), value(stale)])
    assert scores(merged.data)[("2024-06-15", "Spain", "Croatia")] == (2, 0)
    assert (merged.counts.results, merged.counts.superseded, merged.counts.added) == (1, 2, 1)


def test_one_match_under_two_keys_is_one_match_the_last_to_finish(base: MatchData) -> None:
    ours = new_match(home_goals=1, finished_at="2024-06-15T17:55:00Z")
    theirs = new_match(match_id="feed-1", home_goals=4, finished_at="2024-06-15T18:10:00Z")
    for records in ([ours, theirs], [theirs, ours]):  # whatever order they were read in
        merged = merge_results(base, [value(r) for r in records])
        assert scores(merged.data)[("2024-06-15", "Spain", "Croatia")] == (4, 0)
        assert (merged.counts.results, merged.counts.superseded) == (1, 1)


def test_unreadable_records_and_tombstones_are_counted_not_trained_on(base: MatchData) -> None:
    broken = value(new_match()).replace(b'"home_goals":3', b'"home_goals":-3')
    merged = merge_results(base, [b"not json", None, broken, value(new_match())])
    assert (merged.counts.records, merged.counts.unreadable, merged.counts.added) == (4, 3, 1)
    assert len(merged.data.results) == 3


def test_an_empty_topic_leaves_the_base_data(base: MatchData) -> None:
    merged = merge_results(base, [])
    pd.testing.assert_frame_equal(merged.data.results, base.results)
    assert merged.counts.records == merged.counts.results == 0


def test_results_frame_has_the_results_columns() -> None:
    frame = results_frame([new_match()])
    assert frame.to_dict("records") == [
        {
            "date": pd.Timestamp("2024-06-15"),
            "home_team": "Spain",
            "away_team": "Croatia",
            "home_score": 3,
            "away_score": 0,
            "tournament": "UEFA Euro",
            "city": "",
            "country": "",
            "neutral": True,
        }
    ]


def test_progress_names_the_counts_and_the_first_conflicts(tmp_path: Path) -> None:
    rows = "".join(
        f"2024-06-{day:02d},Team {day},Other {day},1,0,Friendly,,,FALSE\n" for day in range(1, 9)
    )
    header, goals_header = RESULTS.splitlines(True)[0], GOALS.splitlines(True)[0]
    base = load_results(write(tmp_path / "many", header + rows, goals_header))
    records = [
        value(
            result(
                match_id=f"m{day}",
                date=f"2024-06-{day:02d}",
                home_team=f"Team {day}",
                away_team=f"Other {day}",
                home_goals=0,
                away_goals=0,
            )
        )
        for day in range(1, 9)
    ]
    lines = describe(merge_results(base, records), TOPIC)
    assert lines[0] == (
        f"{TOPIC}: 8 records, 8 matches: 0 new, 0 already in the base data, 8 with another "
        "score there (base data kept); 0 superseded, 0 unreadable"
    )
    assert lines[1] == "conflict: m1: base data 1-0, topic 0-0 (base data kept)"
    assert len(lines) == 1 + SHOWN_CONFLICTS + 1
    assert lines[-1] == f"conflict: and {8 - SHOWN_CONFLICTS} more"


# -- the registry probe ------------------------------------------------------------------


def test_a_local_registry_needs_no_answer(tmp_path: Path) -> None:
    check_registry(f"sqlite:///{tmp_path / 'none' / 'mlflow.db'}")
    assert not (tmp_path / "none").exists(), "the probe must not create a registry"


def test_shown_uri_drops_the_credentials() -> None:
    assert shown_uri("https://bob:pw@mlflow.example:8443/ml") == "https://mlflow.example:8443/ml"
    assert shown_uri("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


# -- the command's refusals --------------------------------------------------------------


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.err.splitlines(), captured.out


def assert_one_error(status: int, lines: list[str], out: str) -> str:
    assert status == 2
    assert lines[-1].startswith("error: "), lines
    assert not any(line.startswith(("error", "Traceback")) for line in lines[:-1]), lines
    assert out == ""
    return lines[-1]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Settings pointing at a broker that is not there and a local registry; the address."""
    broker = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker)
    monkeypatch.setenv("STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MODEL_ALIAS", raising=False)
    return broker


@pytest.mark.parametrize(
    "argv",
    [
        ["retrain"],
        ["retrain", "--data", "x", "--synthetic", "10"],
        ["retrain", "--synthetic", "0"],
        ["retrain", "--synthetic", "100", "--holdout-from", "last week"],
        ["retrain", "--synthetic", "100", "--features-dir", "/tmp/f"],
        ["retrain", "--data", "/no/such/folder"],
    ],
)
def test_bad_arguments_are_one_error_line(
    argv: list[str], offline: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = assert_one_error(*run(argv, capsys))
    assert offline not in line, "an argument error must not reach for the broker"


def test_the_served_alias_is_never_retrained_into(
    offline: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MODEL_ALIAS", "challenger")
    line = assert_one_error(*run(["retrain", "--data", str(write(tmp_path / "d"))], capsys))
    assert "MODEL_ALIAS is 'challenger'" in line


def test_a_broker_that_does_not_answer_is_one_line_naming_it_in_bounded_time(
    offline: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    line = assert_one_error(*run(["retrain", "--data", str(write(tmp_path / "d"))], capsys))
    assert line.startswith(f"error: kafka: no answer from {offline} within ")
    assert time.monotonic() - started < 30


def test_a_registry_that_does_not_answer_is_one_line_before_the_broker(
    offline: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    started = time.monotonic()
    status, lines, out = run(["retrain", "--data", str(write(tmp_path / "d"))], capsys)
    line = assert_one_error(status, lines, out)
    assert line.startswith(f"error: mlflow: no usable answer from {server} within 5s")
    assert time.monotonic() - started < 30
    assert not any(offline in progress for progress in lines), "the broker was asked first"

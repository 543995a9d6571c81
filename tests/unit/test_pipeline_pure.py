"""Pure parts of the pipeline: decoding, fixtures, the model frame, poison rows, state."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from models.feature_spec import MODEL_INPUT_COLUMNS, NEW_TEAM_FEATURES
from schemas import DeadLetterError, Livescore, MatchRequest
from streams.decode import decode
from streams.enrich import DEFAULT_TOURNAMENT, Job, model_frame, resolve_fixture
from streams.features.snapshot import FeatureSnapshot, Fixture
from streams.inference import infer
from streams.latest_store import LatestValue, newest_per_key
from streams.metrics import Metrics
from streams.model_registry import warm_frame
from streams.pipeline import Pipeline
from streams.records import RawRecord


def raw(value: bytes | None, key: bytes | None = b"m1", topic: str = "livescores") -> RawRecord:
    return RawRecord(topic=topic, partition=0, offset=7, key=key, value=value, timestamp=0.0)


def livescore(**overrides: object) -> Livescore:
    body = {
        "match_id": "m1",
        "seq": 1,
        "ts": "2024-06-14T19:00:00Z",
        "status": "live",
        "minute": 10,
        "home_goals": 1,
        "away_goals": 0,
    } | overrides
    return Livescore.model_validate_json(json.dumps(body))


SNAPSHOT = FeatureSnapshot(
    version="v-test",
    created_at=None,
    loaded_at=dt.datetime.now(dt.UTC),
    teams={"Germany": (1900.0, 2.2, 2.1, 0.8, 40.0), "Scotland": (1650.0, 1.2, 1.1, 1.4, 38.0)},
    fixtures={"m1": Fixture("Germany", "Scotland", False, "UEFA Euro")},
)


class TestDecode:
    def test_valid_livescore(self) -> None:
        record = decode(raw(livescore().model_dump_json().encode()), Livescore)
        assert isinstance(record, Livescore) and record.minute == 10

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            (b"{nope", "invalid_json"),
            (b"\xff\xfe", "invalid_json"),
            (None, "invalid_json"),
            (b"[1, 2]", "invalid_json"),
            (b'{"match_id": "m1"}', "schema"),
        ],
    )
    def test_bad_bytes_get_a_reason(self, value: bytes | None, reason: str) -> None:
        result = decode(raw(value), Livescore)
        assert isinstance(result, DeadLetterError) and result.type == reason

    def test_key_must_be_the_match_id(self) -> None:
        result = decode(raw(livescore().model_dump_json().encode(), key=b"other"), Livescore)
        assert isinstance(result, DeadLetterError)
        assert result.type == "schema" and "'other'" in result.message

    def test_null_key_is_accepted(self) -> None:
        assert isinstance(
            decode(raw(livescore().model_dump_json().encode(), key=None), Livescore), Livescore
        )


class TestFixtures:
    def test_tables_win_over_event_teams(self) -> None:
        event = livescore(home_team="A", away_team="B")
        assert resolve_fixture(SNAPSHOT, Job(raw(b""), event, event)).home_team == "Germany"

    def test_event_teams_for_a_match_missing_from_tables(self) -> None:
        event = livescore(match_id="new", home_team="A", away_team="B", neutral=True)
        fixture = resolve_fixture(SNAPSHOT, Job(raw(b"", key=b"new"), event, event))
        assert fixture == Fixture("A", "B", True, DEFAULT_TOURNAMENT)

    def test_request_falls_back_to_the_teams_its_state_carried(self) -> None:
        state = livescore(match_id="new", home_team="A", away_team="B")
        request = MatchRequest.model_validate_json(b'{"request_id": "r", "match_id": "new"}')
        assert resolve_fixture(SNAPSHOT, Job(raw(b""), request, state)).away_team == "B"

    def test_no_teams_anywhere_is_none(self) -> None:
        event = livescore(match_id="ghost")
        assert resolve_fixture(SNAPSHOT, Job(raw(b""), event, event)) is None


class TestModelFrame:
    def test_columns_values_and_unknown_team_defaults(self) -> None:
        known = livescore()
        unknown = livescore(match_id="x", home_team="Atlantis", away_team="Scotland", minute=80)
        jobs = [Job(raw(b""), known, known), Job(raw(b""), unknown, unknown)]
        for job in jobs:
            job.fixture = resolve_fixture(SNAPSHOT, job)
        frame, unknown_teams = model_frame(SNAPSHOT, jobs)
        assert tuple(frame.columns) == MODEL_INPUT_COLUMNS
        assert unknown_teams == 1
        assert frame.loc[0, "home_elo"] == 1900.0 and frame.loc[0, "tournament"] == "UEFA Euro"
        assert frame.loc[1, "home_elo"] == NEW_TEAM_FEATURES["elo"]
        assert frame.loc[1, "minute"] == 80 and frame.loc[1, "away_elo"] == 1650.0

    def test_pre_match_request_has_a_zero_state(self) -> None:
        request = MatchRequest.model_validate_json(b'{"request_id": "r", "match_id": "m1"}')
        job = Job(raw(b""), request, None)
        job.fixture = resolve_fixture(SNAPSHOT, job)
        frame, _ = model_frame(SNAPSHOT, [job])
        assert frame.loc[0, ["minute", "home_goals", "away_goals"]].tolist() == [0, 0, 0]

    def test_warm_frame_matches_the_contract(self) -> None:
        assert tuple(warm_frame().columns) == MODEL_INPUT_COLUMNS


class PoisonOnMinute:
    """Scores every row but raises for any batch holding a row at minute 99."""

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if (frame["minute"] == 99).any():
            raise ValueError("poison row")
        return np.tile([0.5, 0.3, 0.2], (len(frame), 1))


def test_one_poison_row_fails_alone() -> None:
    frame = pd.DataFrame({"minute": [1, 99, 3]})
    results = asyncio.run(infer(PoisonOnMinute(), frame, Metrics()))
    assert isinstance(results[1], ValueError)
    assert [r.tolist() for i, r in enumerate(results) if i != 1] == [[0.5, 0.3, 0.2]] * 2


def test_wrong_output_shape_is_an_error() -> None:
    class TwoColumns:
        def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
            return np.ones((len(frame), 2)) / 2

    results = asyncio.run(infer(TwoColumns(), pd.DataFrame({"minute": [1]}), Metrics()))
    assert isinstance(results[0], ValueError)


def test_newest_per_key_keeps_the_highest_seq() -> None:
    values = [
        LatestValue("k", 3, "c"),
        LatestValue("k", 5, "e"),
        LatestValue("k", 4, "d"),
        LatestValue("j", -1, "req"),
    ]
    assert newest_per_key(values) == {
        "k": LatestValue("k", 5, "e"),
        "j": LatestValue("j", -1, "req"),
    }


def test_huge_payload_is_cut_in_its_dead_letter() -> None:
    from streams.dead_letters import MAX_DEAD_LETTER_PAYLOAD, dead_letter

    huge = b"{" + b"x" * (3 * MAX_DEAD_LETTER_PAYLOAD)
    metrics = Metrics()
    letter = dead_letter(raw(huge), "invalid_json", "Invalid JSON", metrics)
    assert letter.payload_bytes() == huge[:MAX_DEAD_LETTER_PAYLOAD]
    assert (
        f"of {len(huge)} bytes" in letter.error.message
        and "livescores[0]@7" in letter.error.message
    )
    assert metrics.dead_letters.labels(reason="invalid_json")._value.get() == 1


def test_small_payload_is_kept_whole() -> None:
    from streams.dead_letters import dead_letter

    letter = dead_letter(raw(b"{nope"), "invalid_json", "Invalid JSON", Metrics())
    assert letter.payload_bytes() == b"{nope" and letter.error.message == "Invalid JSON"


class CountingTable(dict):
    """A dict standing in for the Faust table, counting writes (changelog records)."""

    writes = 0

    def __setitem__(self, key: str, value: bytes) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def test_remember_writes_the_newest_state_once_per_match_and_never_goes_back() -> None:
    table = CountingTable(
        m1=livescore(match_id="m1", seq=4).model_dump_json().encode(),
        m3=livescore(match_id="m3", seq=9).model_dump_json().encode(),
    )
    pipeline = Pipeline.__new__(Pipeline)
    pipeline.match_to_state = table
    seqs = [("m1", 3), ("m1", 5), ("m2", 1), ("m1", 4), ("m3", 2)]

    pipeline.remember([livescore(match_id=m, seq=s) for m, s in seqs])

    assert {m: Livescore.model_validate_json(v).seq for m, v in table.items()} == {
        "m1": 5,
        "m2": 1,
        "m3": 9,
    }
    assert table.writes == 2, "m1 and m2 once each; m3's late event writes nothing"

"""The feature contract: one frame builder for training and serving, and the manifest.

The parity test is the proof the issue asks for: the frame serving builds from the feature
tables for a batch of events is the frame training builds for the same matches and states,
column for column, value for value and dtype for dtype.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.feature_tables import export_feature_tables, model_input, read_feature_tables
from models.features import compute_features
from models.synthetic import generate_matches
from schemas.features import (
    MANIFEST_FILE,
    MODEL_INPUT_COLUMNS,
    STATE_COLUMNS,
    TEAM_FEATURE_COLUMNS,
    Manifest,
    ManifestError,
    model_frame,
    read_manifest,
    warm_up_frame,
)
from streams.flow.enrich import Job, resolve, serving_input
from streams.live.feature_snapshot import load_snapshot
from tests.factories import READ_AT, livescore, ratings_of, raw, request


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("features")
    export_feature_tables(compute_features(generate_matches(600, seed=11).results), folder)
    return folder


def test_serving_and_training_build_identical_frames(tables: Path) -> None:
    snapshot = ratings_of(load_snapshot(tables))
    trained = read_feature_tables(tables)
    matches = trained.matches.tail(40).reset_index()
    rng = np.random.default_rng(3)
    states = rng.integers(0, 4, size=(len(matches), len(STATE_COLUMNS)))
    states[:, 0] = rng.integers(0, 95, size=len(matches))  # the minute
    states[::4] = 0  # every fourth one pre-match

    jobs = []
    for (match_id, *_), state in zip(matches.itertuples(index=False), states, strict=True):
        if not state.any():  # a pre-match request: no live state
            record = request(match_id=match_id)
            jobs.append(Job(raw(b"", key=match_id.encode()), record, None))
            continue
        event = livescore(
            match_id=match_id, **dict(zip(STATE_COLUMNS, map(int, state), strict=True))
        )
        jobs.append(Job(raw(b"", key=match_id.encode()), event, event))
    for job in jobs:
        assert resolve(snapshot, job, READ_AT)
    served, unknown = serving_input(snapshot, jobs)

    fixtures = matches.assign(**{c: states[:, i] for i, c in enumerate(STATE_COLUMNS)})
    training = model_input(trained.teams, fixtures)

    assert unknown == 0
    pd.testing.assert_frame_equal(served.frame(), training.reset_index(drop=True), check_exact=True)


def test_unknown_teams_get_the_same_defaults_on_both_sides(tables: Path) -> None:
    snapshot = ratings_of(load_snapshot(tables))
    event = livescore(match_id="new", home_team="Atlantis", away_team="Lemuria", neutral=True)
    job = Job(raw(b"", key=b"new"), event, event)
    assert resolve(snapshot, job, READ_AT)
    served, unknown = serving_input(snapshot, [job])
    fixtures = pd.DataFrame(
        {
            "home_team": ["Atlantis"],
            "away_team": ["Lemuria"],
            "neutral": [True],
            "tournament": ["Friendly"],
            **{c: [getattr(event, c)] for c in STATE_COLUMNS},
        }
    )
    assert unknown == 2
    pd.testing.assert_frame_equal(
        served.frame(), model_input(read_feature_tables(tables).teams, fixtures)
    )


def test_every_frame_has_the_contract_columns_and_types() -> None:
    width = len(TEAM_FEATURE_COLUMNS)
    frame = model_frame([[1.0] * width], [[2.0] * width], [1], ["Friendly"], [[3, 1, 0, 0, 0]])
    for built in (frame, warm_up_frame()):
        assert tuple(built.columns) == MODEL_INPUT_COLUMNS
        assert built["tournament"].dtype == object
        numbers = built.drop(columns="tournament")
        assert (numbers.dtypes == np.float64).all()
    assert frame.loc[0, "minute"] == 3.0 and frame.loc[0, "away_elo"] == 2.0


def test_manifest_round_trips_and_reads_old_zoneless_times(tmp_path: Path) -> None:
    made = Manifest(features_version="v1", created_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
    (tmp_path / MANIFEST_FILE).write_text(made.to_json())
    assert read_manifest(tmp_path) == made
    (tmp_path / MANIFEST_FILE).write_text(
        json.dumps({"features_version": "v0", "created_at": "2026-01-02T00:00:00"})
    )
    assert read_manifest(tmp_path).created_at == dt.datetime(2026, 1, 2, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("body", "reason"),
    [(None, "missing"), ("{", "unusable"), ('{"created_at": null}', "features_version")],
)
def test_an_unusable_manifest_is_one_readable_line(
    tmp_path: Path, body: str | None, reason: str
) -> None:
    if body is not None:
        (tmp_path / MANIFEST_FILE).write_text(body)
    with pytest.raises(ManifestError, match=reason) as caught:
        read_manifest(tmp_path)
    assert "\n" not in str(caught.value)

"""Features that learn from the stream, through running workers and the real Kafka.

A season of synthetic results after the snapshot's cut-off is fed as ``finished``
livescores; the workers' team features must equal what training computes over the same
results (``compute_features``), to 1e-9, also when events repeat, a score is corrected,
a worker dies mid-season, or a worker starts from nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from devstack.supervisor import free_port
from devstack.worker import WorkerProcess, http_get
from models import registry
from models.feature_tables import export_feature_tables
from models.features import compute_features
from models.ids import match_id
from models.synthetic import generate_matches
from schemas.features import NEW_TEAM, STATE_COLUMNS, TEAM_FEATURE_COLUMNS, model_frame
from streams.settings import Settings
from tests.harness import collect, produce
from tests.integration.conftest import TrainedRegistry
from tests.integration.test_pipeline_e2e import request

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
SNAPSHOT_MATCHES = 600
SEASON = 300
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def season() -> pd.DataFrame:
    results = generate_matches(SNAPSHOT_MATCHES + SEASON, seed=21).results
    return results.drop_duplicates(["date", "home_team", "away_team"]).reset_index(drop=True)


@pytest.fixture
def features_dir(season: pd.DataFrame, tmp_path: Path) -> Path:
    """A snapshot trained on the matches before the season."""
    folder = tmp_path / "features"
    export_feature_tables(compute_features(season.iloc[:SNAPSHOT_MATCHES]), folder)
    return folder


def finished(row: Any, order: int, seq: int = 7, **changes: Any) -> tuple[bytes, bytes]:
    """The ``finished`` livescore of one results row; ``ts`` follows the feed's order."""
    mid = match_id(row.date, row.home_team, row.away_team)
    body = {
        "match_id": mid,
        "seq": seq,
        "ts": (EPOCH + dt.timedelta(seconds=order)).isoformat(),
        "status": "finished",
        "minute": 90,
        "home_goals": int(row.home_score),
        "away_goals": int(row.away_score),
        "home_team": row.home_team,
        "away_team": row.away_team,
        "date": row.date.date().isoformat(),
        "neutral": bool(row.neutral),
        "tournament": row.tournament,
    } | changes
    return mid.encode(), json.dumps(body).encode()


def events(rows: pd.DataFrame, start: int = 0) -> list[tuple[bytes, bytes]]:
    return [finished(row, start + i) for i, row in enumerate(rows.itertuples(index=False))]


def ratings(worker: WorkerProcess) -> dict[str, Any]:
    status, body = http_get(f"{worker.base_url}/ratings")
    assert status == 200, body
    return dict(json.loads(body))


def wait_applied(worker: WorkerProcess, count: int, timeout: float = 90.0) -> dict[str, Any]:
    """/ratings once ``count`` results are applied (the version ends in ``+count``)."""
    deadline = time.monotonic() + timeout
    found: dict[str, Any] = {}
    while time.monotonic() < deadline:
        found = ratings(worker)
        if found["features_version"].endswith(f"+{count}"):
            return found
        time.sleep(0.3)
    raise AssertionError(
        f"not {count} results applied in {timeout}s: {found.get('features_version')}"
    )


def assert_parity(found: dict[str, Any], results: pd.DataFrame) -> None:
    trained = compute_features(results).teams
    assert set(found["teams"]) == set(trained.index)
    for team, features in found["teams"].items():
        expected = trained.loc[team, list(TEAM_FEATURE_COLUMNS)].to_numpy(np.float64)
        served = np.array([features[c] for c in TEAM_FEATURE_COLUMNS])
        np.testing.assert_allclose(served, expected, rtol=0, atol=1e-9, err_msg=team)


def wait_parity(worker: WorkerProcess, results: pd.DataFrame, timeout: float = 60.0) -> None:
    """Wait until the worker's features equal training's over ``results``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            assert_parity(ratings(worker), results)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.fixture
def feature_settings(worker_settings: Settings, features_dir: Path) -> Settings:
    return Settings(**worker_settings.model_dump() | {"features_dir": features_dir})


def start(settings: Settings, log: Path, **changes: Any) -> WorkerProcess:
    own = Settings(**settings.model_dump() | changes) if changes else settings
    worker = WorkerProcess(own, log).launch()
    worker.wait_ready()
    return worker


async def test_a_season_through_the_worker_equals_training_and_survives_a_restart(
    feature_settings: Settings, season: pd.DataFrame, tmp_path: Path
) -> None:
    worker = start(feature_settings, tmp_path / "worker.log")
    try:
        await produce(
            feature_settings,
            feature_settings.livescores_topic,
            events(season.iloc[SNAPSHOT_MATCHES:]),
        )
        found = wait_applied(worker, len(season) - SNAPSHOT_MATCHES)
        assert_parity(found, season)
    finally:
        worker.stop()

    # A worker that starts from nothing rebuilds the same ratings from Kafka alone.
    fresh = start(feature_settings, tmp_path / "fresh.log", state_dir=tmp_path / "fresh-state")
    try:
        rebuilt = wait_applied(fresh, len(season) - SNAPSHOT_MATCHES)
        assert rebuilt == found
        ready = json.loads(http_get(f"{fresh.base_url}/ready")[1])
        assert ready["features"]["caught_up"] and ready["features"]["results_behind"] == 0
    finally:
        fresh.stop()


async def test_repeated_and_corrected_results(
    feature_settings: Settings, season: pd.DataFrame, tmp_path: Path
) -> None:
    rows = season.iloc[SNAPSHOT_MATCHES : SNAPSHOT_MATCHES + 40]
    target = next(rows.iloc[20:].itertuples(index=False))
    worker = start(feature_settings, tmp_path / "worker.log")
    try:
        feed = events(rows)
        await produce(feature_settings, feature_settings.livescores_topic, feed + [feed[20]] * 2)
        assert_parity(wait_applied(worker, 40), season.iloc[: SNAPSHOT_MATCHES + 40])

        corrected = finished(target, 20, seq=8, home_goals=int(target.home_score) + 3)
        await produce(feature_settings, feature_settings.livescores_topic, [corrected])
        fixed = season.iloc[: SNAPSHOT_MATCHES + 40].copy()
        fixed.loc[SNAPSHOT_MATCHES + 20, "home_score"] += 3
        wait_parity(worker, fixed)
        status, body = http_get(f"{worker.base_url}/metrics")
        assert status == 200
        assert b'soccer_results_rejected_total{reason="duplicate"} 2.0' in body
    finally:
        worker.stop()


async def test_the_next_match_is_predicted_with_the_previous_result(
    feature_settings: Settings,
    season: pd.DataFrame,
    trained_registry: TrainedRegistry,
    tmp_path: Path,
) -> None:
    played = season.iloc[SNAPSHOT_MATCHES]
    team, rival = played.home_team, "Atlantis"
    next_day = (played.date + pd.Timedelta(days=3)).date().isoformat()
    ask = {"home_team": team, "away_team": rival, "date": next_day, "tournament": "Friendly"}
    worker = start(feature_settings, tmp_path / "worker.log")

    async def answer(request_id: str) -> dict[str, Any]:
        asked = [request("next", request_id, **ask)]
        await produce(feature_settings, feature_settings.match_requests_topic, asked)
        found = await collect(
            feature_settings,
            feature_settings.predictions_topic,
            lambda rs: any(r.get("request_id") == request_id for r in rs),
        )
        return next(r for r in found if r.get("request_id") == request_id)

    try:
        before = await answer("before")
        win = finished(played, 0, home_goals=int(played.away_score) + 4)
        await produce(feature_settings, feature_settings.livescores_topic, [win])
        wait_applied(worker, 1)
        after = await answer("after")
    finally:
        worker.stop()

    assert before["features_version"].endswith("+0") and after["features_version"].endswith("+1")
    assert after["probabilities"]["home"] > before["probabilities"]["home"]
    # Exactly the model's answer for the team's features after that result.
    with_result = season.iloc[: SNAPSHOT_MATCHES + 1].copy()
    with_result.loc[SNAPSHOT_MATCHES, "home_score"] = int(played.away_score) + 4
    teams = compute_features(with_result).teams
    frame = model_frame(
        [teams.loc[team, list(TEAM_FEATURE_COLUMNS)].to_numpy(np.float64)],
        [NEW_TEAM],
        [False],
        ["Friendly"],
        [[0] * len(STATE_COLUMNS)],
    )
    ref = registry.resolve_alias("soccer_clf", "champion", trained_registry.tracking_uri)
    expected = registry.load_model(ref.name, ref.version, trained_registry.tracking_uri)
    home, draw, away = expected.predict_proba(frame)[0]
    assert after["probabilities"] == pytest.approx(
        {"home": home, "draw": draw, "away": away}, abs=1e-9
    )


async def test_two_workers_one_killed_mid_season(
    feature_settings: Settings, season: pd.DataFrame, tmp_path: Path
) -> None:
    shared = Settings(**feature_settings.model_dump() | {"kafka_session_timeout_seconds": 6.0})
    workers = [
        start(shared, tmp_path / f"w{i}.log", web_port=free_port(), state_dir=tmp_path / f"s{i}")
        for i in range(2)
    ]
    survivor, victim = workers
    rows = season.iloc[SNAPSHOT_MATCHES:]
    half = len(rows) // 2
    try:
        await produce(shared, shared.livescores_topic, events(rows.iloc[:half]))
        wait_applied(survivor, half)
        victim.kill()
        await produce(shared, shared.livescores_topic, events(rows.iloc[half:], start=half))
        assert_parity(wait_applied(survivor, len(rows), timeout=120), season)
        restarted = start(
            shared, tmp_path / "w1-again.log", web_port=free_port(), state_dir=tmp_path / "s1"
        )
        workers.append(restarted)
        assert_parity(wait_applied(restarted, len(rows)), season)
    finally:
        for worker in workers:
            worker.stop()

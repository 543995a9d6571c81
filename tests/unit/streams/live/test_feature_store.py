"""Feature snapshots: load, swap on change, keep the old one when a new file is broken."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from streams.live.feature_store import FeatureStore
from streams.metrics import Metrics


def write_tables(folder: Path, version: str, elo: float = 1600.0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "team": ["A", "B"],
            "elo": [elo, 1400.0],
            "form": [2.0, 1.0],
            "goals_for": [2.0, 1.0],
            "goals_against": [1.0, 2.0],
            "matches_played": [10.0, 10.0],
        }
    ).to_parquet(folder / "teams.parquet")
    pd.DataFrame(
        {
            "match_id": ["m1"],
            "date": ["2024-01-01"],
            "home_team": ["A"],
            "away_team": ["B"],
            "neutral": [False],
            "tournament": ["Friendly"],
        }
    ).to_parquet(folder / "matches.parquet")
    (folder / "manifest.json").write_text(json.dumps({"features_version": version}))


async def test_loads_then_swaps_when_files_change(tmp_path: Path) -> None:
    write_tables(tmp_path, "v1")
    store = FeatureStore(tmp_path, Metrics(), poll_seconds=1.0)
    assert await store.reload_if_changed()
    # A table written before the goal ratings existed: they read as a new team's (0, 0).
    assert store.version == "v1"
    assert store.current.teams["A"] == (1600.0, 2.0, 2.0, 1.0, 10.0, 0.0, 0.0)
    assert not await store.reload_if_changed()  # unchanged files are not re-read
    write_tables(tmp_path, "v2", elo=1700.0)
    assert await store.reload_if_changed()
    assert store.version == "v2" and store.current.teams["A"][0] == 1700.0


async def test_broken_file_keeps_the_old_snapshot_and_reports(tmp_path: Path) -> None:
    write_tables(tmp_path, "v1")
    metrics = Metrics()
    store = FeatureStore(tmp_path, metrics, poll_seconds=1.0)
    await store.reload_if_changed()
    (tmp_path / "teams.parquet").write_bytes(b"not parquet at all")
    (tmp_path / "manifest.json").write_text(json.dumps({"features_version": "v2"}))
    assert not await store.reload_if_changed()
    assert store.version == "v1"
    assert "teams.parquet" in store.last_error
    assert metrics.feature_reload_errors._value.get() == 1
    write_tables(tmp_path, "v3")  # fixed files are picked up
    assert await store.reload_if_changed()
    assert store.version == "v3" and store.last_error is None


async def test_missing_dir_is_not_ready(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "absent", Metrics(), poll_seconds=1.0)
    assert not await store.reload_if_changed()
    assert store.current is None and not store.ready.is_set()
    assert "manifest.json is missing" in store.last_error


async def test_missing_column_is_rejected(tmp_path: Path) -> None:
    write_tables(tmp_path, "v1")
    pd.DataFrame({"team": ["A"], "elo": [1.0]}).to_parquet(tmp_path / "teams.parquet")
    store = FeatureStore(tmp_path, Metrics(), poll_seconds=1.0)
    assert not await store.reload_if_changed()
    assert "lacks columns" in store.last_error


def test_same_size_rewrite_changes_the_signature(tmp_path: Path) -> None:
    from streams.live.feature_store import file_signature

    write_tables(tmp_path, "v1")
    before = file_signature(tmp_path)
    stat = (tmp_path / "manifest.json").stat()
    os.utime(tmp_path / "manifest.json", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert file_signature(tmp_path) != before

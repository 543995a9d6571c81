"""The feature tables serving enriches events from: ``teams.parquet``, ``matches.parquet`` and
``manifest.json`` in ``FEATURES_DIR`` (names, columns and the manifest in
:mod:`schemas.features`).

A snapshot is written to a temporary folder beside ``FEATURES_DIR`` and renamed into place,
so a reader sees the old snapshot or the new one, never a mix or a half-written file. (There
is a moment of a few microseconds between moving the old folder aside and the new one in,
when the folder is missing; a reader that gets "not found" should retry.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.features import FeatureHistory
from schemas.features import (
    MANIFEST_FILE,
    MATCH_COLUMNS,
    MATCHES_FILE,
    NEW_TEAM_FEATURES,
    SCORE_COLUMNS,
    STATE_COLUMNS,
    TEAM_COLUMNS,
    TEAM_FEATURE_COLUMNS,
    TEAMS_FILE,
    Manifest,
    model_frame,
    read_manifest,
)


@dataclass(frozen=True)
class FeatureTables:
    """A snapshot as read back: ``teams`` indexed by team, ``matches`` by match_id."""

    teams: pd.DataFrame
    matches: pd.DataFrame
    manifest: Manifest


def matches_table(prematch: pd.DataFrame) -> pd.DataFrame:
    """``MATCH_COLUMNS`` and ``SCORE_COLUMNS`` indexed by ``match_id``; a repeated id keeps
    its last match."""
    table = prematch[[*MATCH_COLUMNS, *SCORE_COLUMNS]].drop_duplicates("match_id", keep="last")
    table = table.assign(neutral=table["neutral"].astype(bool))
    return table.set_index("match_id")


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def export_feature_tables(
    history: FeatureHistory, features_dir: str | Path, now: dt.datetime | None = None
) -> Manifest:
    """Write a new snapshot of ``history`` to ``features_dir`` atomically; returns its manifest."""
    target = Path(features_dir).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    created = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    staging = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        history.teams[list(TEAM_COLUMNS)].to_parquet(staging / TEAMS_FILE)
        matches_table(history.prematch).to_parquet(staging / MATCHES_FILE)
        digest = hashlib.sha256()
        for name in (TEAMS_FILE, MATCHES_FILE):
            digest.update((staging / name).read_bytes())
        manifest = Manifest(
            features_version=f"{created:%Y%m%dT%H%M%SZ}-{digest.hexdigest()[:12]}",
            created_at=created,
            results_until=history.prematch["date"].max().date() if len(history.prematch) else None,
        )
        (staging / MANIFEST_FILE).write_text(manifest.to_json())
        for name in (TEAMS_FILE, MATCHES_FILE, MANIFEST_FILE):
            _fsync_file(staging / name)
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{uuid.uuid4().hex}"
            os.rename(target, old)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return manifest


def read_feature_tables(features_dir: str | Path) -> FeatureTables:
    """Read a snapshot written by :func:`export_feature_tables`."""
    folder = Path(features_dir)
    return FeatureTables(
        teams=pd.read_parquet(folder / TEAMS_FILE),
        matches=pd.read_parquet(folder / MATCHES_FILE),
        manifest=read_manifest(folder),
    )


def model_input(teams: pd.DataFrame, fixtures: pd.DataFrame) -> pd.DataFrame:
    """Model rows for ``fixtures`` (home_team, away_team, neutral, tournament, and optionally
    the ``STATE_COLUMNS``; missing state means 0), with team features from ``teams``.

    A team not in ``teams`` gets ``NEW_TEAM_FEATURES``. Vectorised: one join per side.
    """
    defaults = [NEW_TEAM_FEATURES[c] for c in TEAM_FEATURE_COLUMNS]
    sides = [
        teams.reindex(fixtures[f"{side}_team"].to_numpy())[list(TEAM_FEATURE_COLUMNS)]
        .fillna(dict(zip(TEAM_FEATURE_COLUMNS, defaults, strict=True)))
        .to_numpy(np.float64)
        for side in ("home", "away")
    ]
    state = np.column_stack(
        [
            pd.to_numeric(fixtures[c]).fillna(0.0).to_numpy(np.float64)
            if c in fixtures
            else np.zeros(len(fixtures))
            for c in STATE_COLUMNS
        ]
    )
    frame = model_frame(
        sides[0],
        sides[1],
        fixtures["neutral"].astype(np.float64).fillna(0.0).to_numpy(),
        fixtures["tournament"].fillna("").astype(str).tolist(),
        state,
    )
    frame.index = fixtures.index
    return frame

"""One immutable, indexed snapshot of the feature tables in ``FEATURES_DIR``."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from schemas.features import (
    MATCH_COLUMNS,
    MATCHES_FILE,
    NEW_TEAM,
    TEAM_FEATURE_COLUMNS,
    TEAMS_FILE,
    ManifestError,
    read_manifest,
)


class FeatureTableError(RuntimeError):
    """A feature table is missing or malformed; the message says which and why."""


class Fixture(NamedTuple):
    """The teams and venue of a match, as the model needs them."""

    home_team: str
    away_team: str
    neutral: bool
    tournament: str


@dataclass(frozen=True)
class FeatureSnapshot:
    """Teams and matches held in dicts for O(1) lookups on the hot path."""

    version: str
    created_at: dt.datetime | None
    loaded_at: dt.datetime
    teams: dict[str, tuple[float, ...]] = field(repr=False)
    fixtures: dict[str, Fixture] = field(repr=False)

    def team(self, name: str) -> tuple[tuple[float, ...], bool]:
        """A team's features and whether it is known (unknown teams get new-team defaults)."""
        found = self.teams.get(name)
        return (found, True) if found is not None else (NEW_TEAM, False)

    def age_seconds(self, now: dt.datetime | None = None) -> float:
        """Seconds since the snapshot was built (or loaded, when the manifest has no time)."""
        built = self.created_at or self.loaded_at
        return ((now or dt.datetime.now(dt.UTC)) - built).total_seconds()


def _read_parquet(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except FileNotFoundError as exc:
        raise FeatureTableError(f"{path.name} is missing in {path.parent}") from exc
    except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
        raise FeatureTableError(f"{path.name} is unreadable: {exc}") from exc
    if frame.index.name in columns:
        frame = frame.reset_index()
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise FeatureTableError(f"{path.name} lacks columns {missing}")
    return frame


def load_snapshot(features_dir: Path) -> FeatureSnapshot:
    """Read and index the three files; raises FeatureTableError for anything unusable."""
    try:
        manifest = read_manifest(features_dir)
    except ManifestError as exc:
        raise FeatureTableError(str(exc)) from exc
    teams = _read_parquet(features_dir / TEAMS_FILE, ("team", *TEAM_FEATURE_COLUMNS))
    matches = _read_parquet(features_dir / MATCHES_FILE, MATCH_COLUMNS)

    values = teams[list(TEAM_FEATURE_COLUMNS)].astype("float64")
    if not values.map(math.isfinite).all().all():
        raise FeatureTableError(f"{TEAMS_FILE} has non-finite feature values")
    team_rows = dict(
        zip(teams["team"].astype(str), map(tuple, values.to_numpy().tolist()), strict=True)
    )
    fixtures = {
        str(mid): Fixture(str(home), str(away), bool(neutral), str(tournament))
        for mid, home, away, neutral, tournament in zip(
            matches["match_id"],
            matches["home_team"],
            matches["away_team"],
            matches["neutral"],
            matches["tournament"],
            strict=True,
        )
    }
    return FeatureSnapshot(
        version=manifest.features_version,
        created_at=manifest.created_at,
        loaded_at=dt.datetime.now(dt.UTC),
        teams=team_rows,
        fixtures=fixtures,
    )

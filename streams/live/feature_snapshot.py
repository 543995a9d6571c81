"""One immutable, indexed snapshot of the feature tables in ``FEATURES_DIR``."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from models.features import TeamState, team_states
from schemas.features import (
    LATER_TEAM_FEATURES,
    MATCH_COLUMNS,
    MATCHES_FILE,
    SCORE_COLUMNS,
    TEAM_FEATURE_COLUMNS,
    TEAMS_FILE,
    ManifestError,
    read_manifest,
    with_later_team_features,
)


class FeatureTableError(RuntimeError):
    """A feature table is missing or malformed; the message says which and why."""


class Fixture(NamedTuple):
    """The teams and venue of a match, as the model needs them, and its date if known."""

    home_team: str
    away_team: str
    neutral: bool
    tournament: str
    date: dt.date | None = None


@dataclass(frozen=True)
class FeatureSnapshot:
    """Teams and matches held in dicts for O(1) lookups on the hot path."""

    version: str
    created_at: dt.datetime | None
    loaded_at: dt.datetime
    teams: dict[str, tuple[float, ...]] = field(repr=False)
    fixtures: dict[str, Fixture] = field(repr=False)
    #: The states behind ``teams`` (None for tables written before the stream updated
    #: features: then results cannot be applied on top).
    states: dict[str, TeamState] | None = field(default=None, repr=False)
    #: (home goals, away goals) of the matches whose results ``teams`` contain.
    scores: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    results_until: dt.date | None = None

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
    earlier = tuple(c for c in TEAM_FEATURE_COLUMNS if c not in LATER_TEAM_FEATURES)
    teams = with_later_team_features(_read_parquet(features_dir / TEAMS_FILE, ("team", *earlier)))
    matches = _read_parquet(features_dir / MATCHES_FILE, MATCH_COLUMNS)
    dates = pd.to_datetime(matches["date"]).dt.date

    values = teams[list(TEAM_FEATURE_COLUMNS)].astype("float64")
    if not values.map(math.isfinite).all().all():
        raise FeatureTableError(f"{TEAMS_FILE} has non-finite feature values")
    team_rows = dict(
        zip(teams["team"].astype(str), map(tuple, values.to_numpy().tolist()), strict=True)
    )
    fixtures = {
        str(mid): Fixture(str(home), str(away), bool(neutral), str(tournament), date)
        for mid, home, away, neutral, tournament, date in zip(
            matches["match_id"],
            matches["home_team"],
            matches["away_team"],
            matches["neutral"],
            matches["tournament"],
            dates,
            strict=True,
        )
    }
    scores = {}
    if all(c in matches.columns for c in SCORE_COLUMNS):
        scores = {
            str(mid): (int(home), int(away))
            for mid, home, away in zip(
                matches["match_id"], matches["home_score"], matches["away_score"], strict=True
            )
        }
    return FeatureSnapshot(
        version=manifest.features_version,
        created_at=manifest.created_at,
        loaded_at=dt.datetime.now(dt.UTC),
        teams=team_rows,
        fixtures=fixtures,
        states=team_states(teams),
        scores=scores,
        results_until=manifest.results_until,
    )

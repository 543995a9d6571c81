"""The feature contract shared by training (``models``) and serving (``streams``).

The registered model takes a frame of exactly ``MODEL_INPUT_COLUMNS``: each team's features
from the feature tables, the venue and tournament, and the live match state. Every frame the
model ever sees (training rows, serving batches, the warm-up row, the logged input example)
is built by :func:`model_rows` (as arrays, what serving predicts on) or :func:`model_frame`
(the same as a frame), so the columns, their order and their types cannot drift between
the two sides. ``tests/unit/schemas/test_features.py`` proves it on real tables.

The feature tables in ``FEATURES_DIR`` are ``teams.parquet`` (``TEAM_COLUMNS``, indexed by
``team``), ``matches.parquet`` (``MATCH_COLUMNS``, indexed by ``match_id``) and
``manifest.json`` (:class:`Manifest`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

#: Per-team features, in this order wherever a team's features are a tuple or an array row.
TEAM_FEATURE_COLUMNS: Final = (
    "elo",
    "form",
    "goals_for",
    "goals_against",
    "matches_played",
    "attack",
    "defence",
)
#: Team features added after the first snapshots were written: a table without them is
#: read with the new-team value (``NEW_TEAM_FEATURES``) for every team.
LATER_TEAM_FEATURES: Final = ("attack", "defence")

#: What a team never seen before gets (and what every team starts training with).
NEW_TEAM_FEATURES: Final[dict[str, float]] = {
    "elo": 1500.0,
    "form": 1.0,  # points per game over the recent window (draw-level prior)
    "goals_for": 1.3,
    "goals_against": 1.3,
    "matches_played": 0.0,
    "attack": 0.0,  # goal ratings (models.goal_ratings): log-scale, 0 = average
    "defence": 0.0,
}
NEW_TEAM: Final[tuple[float, ...]] = tuple(NEW_TEAM_FEATURES[c] for c in TEAM_FEATURE_COLUMNS)

#: The recent-form window behind ``form``, ``goals_for`` and ``goals_against``: per team,
#: lists of points, goals for and goals against of its last matches, oldest first. With
#: them the stream continues a snapshot's features exactly as training would have.
TEAM_STATE_COLUMNS: Final = ("recent_points", "recent_goals_for", "recent_goals_against")
#: Columns of ``teams.parquet`` (indexed by ``team``).
TEAM_COLUMNS: Final = (*TEAM_FEATURE_COLUMNS, *TEAM_STATE_COLUMNS)

#: Columns of ``matches.parquet`` (indexed by ``match_id``): the matches whose results the
#: snapshot's team features already contain.
MATCH_COLUMNS: Final = ("match_id", "date", "home_team", "away_team", "neutral", "tournament")
#: Their scores (written since the stream updates features; older snapshots lack them).
SCORE_COLUMNS: Final = ("home_score", "away_score")

#: Live state columns (all 0 for a pre-match request).
STATE_COLUMNS: Final = ("minute", "home_goals", "away_goals", "home_red_cards", "away_red_cards")

#: The exact input frame of the registered model, in order.
MODEL_INPUT_COLUMNS: Final = (
    *(f"home_{c}" for c in TEAM_FEATURE_COLUMNS),
    *(f"away_{c}" for c in TEAM_FEATURE_COLUMNS),
    "neutral",  # 0.0 or 1.0
    "tournament",  # raw name; the model maps it to a weight itself
    *STATE_COLUMNS,
)
#: Every column but ``tournament`` is float64 in a model frame.
TEXT_COLUMNS: Final = frozenset({"tournament"})
#: The numeric input columns, in frame order (every input column but the tournament).
NUMERIC_INPUT_COLUMNS: Final = tuple(c for c in MODEL_INPUT_COLUMNS if c not in TEXT_COLUMNS)

#: What an event that names its teams but no tournament is assumed to be.
DEFAULT_TOURNAMENT: Final = "Friendly"

#: File names inside ``FEATURES_DIR``.
TEAMS_FILE: Final = "teams.parquet"
MATCHES_FILE: Final = "matches.parquet"
MANIFEST_FILE: Final = "manifest.json"
TABLE_FILES: Final = (MANIFEST_FILE, TEAMS_FILE, MATCHES_FILE)


def with_later_team_features(teams: pd.DataFrame) -> pd.DataFrame:
    """``teams`` with every ``LATER_TEAM_FEATURES`` column it lacks, at the new-team value:
    a snapshot written before a feature existed still loads (its teams start that feature
    from scratch)."""
    missing = [c for c in LATER_TEAM_FEATURES if c not in teams.columns]
    if not missing:
        return teams
    return teams.assign(**{c: NEW_TEAM_FEATURES[c] for c in missing})


class ManifestError(ValueError):
    """``manifest.json`` is missing or unusable; ``str()`` is one readable line."""


class Manifest(BaseModel):
    """``manifest.json``: which snapshot the tables are and when it was made."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    features_version: str = Field(
        min_length=1, description="Creation time and content hash of the tables."
    )
    created_at: AwareDatetime | None = Field(
        None, description="RFC 3339; a time without zone is read as UTC; None if unknown."
    )
    results_until: dt.date | None = Field(
        None, description="Date of the newest result the team features contain; None if unknown."
    )

    @field_validator("created_at", mode="before")
    @classmethod
    def _naive_is_utc(cls, value: object) -> object:
        # Older snapshots wrote a zoneless time; it was always UTC.
        if isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value)
            except ValueError:
                return None  # an unreadable time is "unknown", not a broken snapshot
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        return value

    def to_json(self) -> str:
        """The file's text."""
        return self.model_dump_json(indent=2) + "\n"


def read_manifest(features_dir: Path) -> Manifest:
    """The manifest of the snapshot in ``features_dir``; :class:`ManifestError` if unusable."""
    path = features_dir / MANIFEST_FILE
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except FileNotFoundError as exc:
        raise ManifestError(f"{MANIFEST_FILE} is missing in {features_dir}") from exc
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise ManifestError(f"{MANIFEST_FILE} is unusable: {where}: {first['msg']}") from exc


@dataclass(frozen=True, slots=True)
class ModelInput:
    """N rows of the model's input as arrays: the numeric columns (``NUMERIC_INPUT_COLUMNS``
    order, float64) and the tournament names. :meth:`frame` is the same rows as the frame
    of ``MODEL_INPUT_COLUMNS`` that the logged signature describes."""

    numbers: np.ndarray
    tournament: np.ndarray

    def __len__(self) -> int:
        return len(self.tournament)

    def take(self, rows: Sequence[int]) -> ModelInput:
        """Only ``rows`` (as ``frame.iloc[rows]``)."""
        return ModelInput(self.numbers[list(rows)], self.tournament[list(rows)])

    def frame(self) -> pd.DataFrame:
        """``MODEL_INPUT_COLUMNS`` in order: numbers as float64, the tournament a string."""
        # One dict of arrays and one DataFrame call: per-column assignment into a frame
        # costs more than the model itself on a small batch.
        columns: dict[str, np.ndarray] = dict(
            zip(NUMERIC_INPUT_COLUMNS, self.numbers.T, strict=True)
        )
        columns["tournament"] = self.tournament
        return pd.DataFrame({name: columns[name] for name in MODEL_INPUT_COLUMNS})


def model_rows(
    home: npt.ArrayLike,
    away: npt.ArrayLike,
    neutral: npt.ArrayLike,
    tournament: Sequence[str],
    state: npt.ArrayLike | None = None,
) -> ModelInput:
    """The model's input for N matches.

    ``home`` and ``away`` are (N, 7) team features in ``TEAM_FEATURE_COLUMNS`` order,
    ``neutral`` N booleans (or 0/1), ``tournament`` N names and ``state`` (N, 5) values in
    ``STATE_COLUMNS`` order (None: every match before kick-off).
    """
    n = len(tournament)
    states = (
        np.zeros((n, len(STATE_COLUMNS)))
        if state is None
        else np.asarray(state, dtype=np.float64).reshape(n, len(STATE_COLUMNS))
    )
    numbers = np.hstack(
        [
            np.asarray(home, dtype=np.float64).reshape(n, len(TEAM_FEATURE_COLUMNS)),
            np.asarray(away, dtype=np.float64).reshape(n, len(TEAM_FEATURE_COLUMNS)),
            np.asarray(neutral, dtype=np.float64).reshape(n, 1),
            states,
        ]
    )
    names = np.fromiter((str(t) for t in tournament), dtype=object, count=n)
    return ModelInput(numbers, names)


def model_frame(
    home: npt.ArrayLike,
    away: npt.ArrayLike,
    neutral: npt.ArrayLike,
    tournament: Sequence[str],
    state: npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """:func:`model_rows` as the frame of ``MODEL_INPUT_COLUMNS`` (training rows, the
    logged example): numbers are float64, the tournament a Python string."""
    return model_rows(home, away, neutral, tournament, state).frame()


def warm_up_input() -> ModelInput:
    """One pre-match row between two new teams on neutral ground: a model's first call."""
    return model_rows([NEW_TEAM], [NEW_TEAM], [True], [DEFAULT_TOURNAMENT])


def warm_up_frame() -> pd.DataFrame:
    return warm_up_input().frame()

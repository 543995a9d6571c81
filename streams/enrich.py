"""Events plus feature tables to the model's input frame (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from models.feature_spec import MODEL_INPUT_COLUMNS, TEAM_FEATURE_COLUMNS
from schemas import Livescore, MatchRequest
from streams.features.snapshot import FeatureSnapshot, Fixture
from streams.records import RawRecord

#: What an event that names its teams but no tournament is assumed to be.
DEFAULT_TOURNAMENT: Final = "Friendly"


@dataclass(slots=True)
class Job:
    """One decoded input on its way to a prediction.

    ``state`` is the match state predicted for: the event itself for a livescore, the
    latest state in ``match_to_state`` (or None before kick-off) for a request.
    """

    raw: RawRecord
    record: Livescore | MatchRequest
    state: Livescore | None
    fixture: Fixture | None = None


def resolve_fixture(snapshot: FeatureSnapshot, job: Job) -> Fixture | None:
    """The match's teams: the feature tables first, else the teams the events carry."""
    known = snapshot.fixtures.get(job.record.match_id)
    if known is not None:
        return known
    for source in (job.record, job.state):
        if source is not None and source.home_team and source.away_team:
            return Fixture(
                home_team=source.home_team,
                away_team=source.away_team,
                neutral=bool(source.neutral),
                tournament=source.tournament or DEFAULT_TOURNAMENT,
            )
    return None


def model_frame(snapshot: FeatureSnapshot, jobs: list[Job]) -> tuple[pd.DataFrame, int]:
    """The model input for ``jobs`` (all with a fixture) and how many teams were unknown."""
    home_rows, away_rows, unknown = [], [], 0
    for job in jobs:
        assert job.fixture is not None  # resolve_fixture ran first; no fixture = dead letter
        home, home_known = snapshot.team(job.fixture.home_team)
        away, away_known = snapshot.team(job.fixture.away_team)
        home_rows.append(home)
        away_rows.append(away)
        unknown += (not home_known) + (not away_known)
    home_values = np.asarray(home_rows, dtype="float64").reshape(len(jobs), -1)
    away_values = np.asarray(away_rows, dtype="float64").reshape(len(jobs), -1)
    states = [job.state for job in jobs]
    columns: dict[str, object] = {}
    for i, name in enumerate(TEAM_FEATURE_COLUMNS):
        columns[f"home_{name}"] = home_values[:, i]
    for i, name in enumerate(TEAM_FEATURE_COLUMNS):
        columns[f"away_{name}"] = away_values[:, i]
    columns["neutral"] = np.fromiter((int(j.fixture.neutral) for j in jobs), "int64", len(jobs))  # type: ignore[union-attr]  # checked above
    columns["tournament"] = [j.fixture.tournament for j in jobs]  # type: ignore[union-attr]
    for name in ("minute", "home_goals", "away_goals", "home_red_cards", "away_red_cards"):
        columns[name] = np.fromiter(
            (getattr(s, name) if s is not None else 0 for s in states), "int64", len(jobs)
        )
    frame = pd.DataFrame(columns)
    return frame[list(MODEL_INPUT_COLUMNS)], unknown

"""Pre-match team features, computed in date order with no look-ahead.

A match's features use only matches on earlier dates: all matches of one day are read from
the state before that day, then applied. So changing a result can never change the features
of a match on the same or an earlier date, and the order of rows within a day does not matter.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd

from models.elo import rating_change
from models.ids import match_id
from models.tournaments import tournament_weight
from schemas.features import NEW_TEAM_FEATURES, TEAM_FEATURE_COLUMNS

#: Matches in the recent-form window.
FORM_WINDOW: Final = 10
LABEL_COLUMN: Final = "outcome"  # index into OUTCOMES


@dataclass
class _Team:
    elo: float = NEW_TEAM_FEATURES["elo"]
    played: int = 0
    # (points, goals for, goals against) of the last FORM_WINDOW matches
    recent: deque[tuple[int, int, int]] = field(default_factory=lambda: deque(maxlen=FORM_WINDOW))

    def features(self) -> tuple[float, float, float, float, float]:
        # Same order as TEAM_FEATURE_COLUMNS.
        if not self.recent:
            return (
                self.elo,
                NEW_TEAM_FEATURES["form"],
                NEW_TEAM_FEATURES["goals_for"],
                NEW_TEAM_FEATURES["goals_against"],
                float(self.played),
            )
        n = len(self.recent)
        points = sum(r[0] for r in self.recent) / n
        scored = sum(r[1] for r in self.recent) / n
        conceded = sum(r[2] for r in self.recent) / n
        return (self.elo, points, scored, conceded, float(self.played))

    def record(self, scored: int, conceded: int, elo_change: float) -> None:
        points = 3 if scored > conceded else 1 if scored == conceded else 0
        self.recent.append((points, scored, conceded))
        self.played += 1
        self.elo += elo_change


@dataclass(frozen=True)
class FeatureHistory:
    """``prematch``: one row per match (results columns, ``match_id``, ``home_*``/``away_*``
    team features as of before the match, ``outcome``); ``teams``: each team's features
    after its last match, indexed by ``team``."""

    prematch: pd.DataFrame
    teams: pd.DataFrame


def outcome_labels(home_score: pd.Series, away_score: pd.Series) -> np.ndarray:
    """0, 1, 2 for a home win, draw, away win (the order of ``OUTCOMES``)."""
    return np.select([home_score > away_score, home_score == away_score], [0, 1], default=2)


def compute_features(results: pd.DataFrame) -> FeatureHistory:
    """Walk the matches in date order, snapshotting features before each day's matches."""
    frame = results.sort_values("date", kind="stable").reset_index(drop=True)
    n = len(frame)
    dates = frame["date"].to_numpy()
    homes = frame["home_team"].to_numpy()
    aways = frame["away_team"].to_numpy()
    home_scores = frame["home_score"].to_numpy()
    away_scores = frame["away_score"].to_numpy()
    neutrals = frame["neutral"].to_numpy()
    weights = [tournament_weight(t) for t in frame["tournament"]]

    teams: dict[str, _Team] = {}
    snapshot = np.empty((n, 2, len(TEAM_FEATURE_COLUMNS)))
    start = 0
    while start < n:
        end = start
        while end < n and dates[end] == dates[start]:
            end += 1
        for i in range(start, end):
            snapshot[i, 0] = teams.setdefault(homes[i], _Team()).features()
            snapshot[i, 1] = teams.setdefault(aways[i], _Team()).features()
        for i in range(start, end):
            home, away = teams[homes[i]], teams[aways[i]]
            hs, as_ = int(home_scores[i]), int(away_scores[i])
            change = rating_change(home.elo, away.elo, hs, as_, bool(neutrals[i]), weights[i])
            home.record(hs, as_, change)
            away.record(as_, hs, -change)
        start = end

    prematch = frame.copy()
    prematch.insert(
        0,
        "match_id",
        [match_id(d, h, a) for d, h, a in zip(frame["date"], homes, aways, strict=True)],
    )
    for side, k in (("home", 0), ("away", 1)):
        for j, column in enumerate(TEAM_FEATURE_COLUMNS):
            prematch[f"{side}_{column}"] = snapshot[:, k, j]
    prematch[LABEL_COLUMN] = outcome_labels(frame["home_score"], frame["away_score"])

    team_frame = pd.DataFrame.from_dict(
        {name: state.features() for name, state in sorted(teams.items())},
        orient="index",
        columns=list(TEAM_FEATURE_COLUMNS),
    )
    team_frame.index.name = "team"
    return FeatureHistory(prematch=prematch, teams=team_frame)

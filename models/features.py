"""Pre-match team features, computed in date order with no look-ahead.

A match's features use only matches on earlier dates: all matches of one day are read from
the state before that day, then applied. So changing a result can never change the features
of a match on the same or an earlier date, and the order of rows within a day does not matter.
"""

from __future__ import annotations

from collections import deque
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd

from models.elo import rating_change
from models.goal_ratings import rating_updates
from models.ids import match_id
from models.tournaments import tournament_weight
from schemas.features import (
    NEW_TEAM_FEATURES,
    TEAM_COLUMNS,
    TEAM_FEATURE_COLUMNS,
    TEAM_STATE_COLUMNS,
    with_later_team_features,
)

#: Matches in the recent-form window.
FORM_WINDOW: Final = 10
LABEL_COLUMN: Final = "outcome"  # index into OUTCOMES


@dataclass
class TeamState:
    """What a team's features are computed from: its rating, matches played, (points,
    goals for, goals against) of its last ``FORM_WINDOW`` matches, and its goal ratings."""

    elo: float = NEW_TEAM_FEATURES["elo"]
    played: int = 0
    recent: deque[tuple[int, int, int]] = field(default_factory=lambda: deque(maxlen=FORM_WINDOW))
    attack: float = NEW_TEAM_FEATURES["attack"]
    defence: float = NEW_TEAM_FEATURES["defence"]

    def features(self) -> tuple[float, ...]:
        """The team's features, in ``TEAM_FEATURE_COLUMNS`` order."""
        if not self.recent:
            return (
                self.elo,
                NEW_TEAM_FEATURES["form"],
                NEW_TEAM_FEATURES["goals_for"],
                NEW_TEAM_FEATURES["goals_against"],
                float(self.played),
                self.attack,
                self.defence,
            )
        n = len(self.recent)
        points = sum(r[0] for r in self.recent) / n
        scored = sum(r[1] for r in self.recent) / n
        conceded = sum(r[2] for r in self.recent) / n
        return (self.elo, points, scored, conceded, float(self.played), self.attack, self.defence)

    def record(
        self, scored: int, conceded: int, elo_change: float, goal_ratings: tuple[float, float]
    ) -> None:
        points = 3 if scored > conceded else 1 if scored == conceded else 0
        self.recent.append((points, scored, conceded))
        self.played += 1
        self.elo += elo_change
        self.attack, self.defence = goal_ratings

    def copy(self) -> TeamState:
        return TeamState(
            self.elo,
            self.played,
            deque(self.recent, maxlen=FORM_WINDOW),
            self.attack,
            self.defence,
        )


@dataclass(frozen=True, slots=True)
class Result:
    """One finished match, as much of it as the features need."""

    home_team: str
    away_team: str
    home_score: int
    away_score: int
    neutral: bool
    tournament: str


def apply_result(teams: MutableMapping[str, TeamState], result: Result) -> float:
    """Fold one result into both teams' states; the home side's rating change.

    The one update of team features: training (:func:`compute_features`) and the stream
    (``streams.live.team_ratings``) both call it, so they cannot drift apart. A team seen
    for the first time starts from ``NEW_TEAM_FEATURES``.
    """
    home = teams.get(result.home_team)
    if home is None:
        home = teams[result.home_team] = TeamState()
    away = teams.get(result.away_team)
    if away is None:
        away = teams[result.away_team] = TeamState()
    change = rating_change(
        home.elo,
        away.elo,
        result.home_score,
        result.away_score,
        result.neutral,
        tournament_weight(result.tournament),
    )
    home_ratings, away_ratings = rating_updates(
        (home.attack, home.defence, home.played),
        (away.attack, away.defence, away.played),
        result.home_score,
        result.away_score,
        result.neutral,
    )
    home.record(result.home_score, result.away_score, change, home_ratings)
    away.record(result.away_score, result.home_score, -change, away_ratings)
    return change


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
    tournaments = frame["tournament"].to_numpy()

    teams: dict[str, TeamState] = {}
    snapshot = np.empty((n, 2, len(TEAM_FEATURE_COLUMNS)))
    start = 0
    while start < n:
        end = start
        while end < n and dates[end] == dates[start]:
            end += 1
        for i in range(start, end):
            snapshot[i, 0] = teams.setdefault(homes[i], TeamState()).features()
            snapshot[i, 1] = teams.setdefault(aways[i], TeamState()).features()
        for i in range(start, end):
            result = Result(
                homes[i],
                aways[i],
                int(home_scores[i]),
                int(away_scores[i]),
                bool(neutrals[i]),
                tournaments[i],
            )
            apply_result(teams, result)
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

    return FeatureHistory(prematch=prematch, teams=team_table(teams))


def team_table(teams: dict[str, TeamState]) -> pd.DataFrame:
    """Each team's features and state (``TEAM_COLUMNS``), indexed by ``team``, sorted."""
    rows = {
        name: (*state.features(), *(list(column) for column in _recent_columns(state)))
        for name, state in sorted(teams.items())
    }
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(TEAM_COLUMNS))
    frame.index.name = "team"
    return frame


def _recent_columns(state: TeamState) -> tuple[list[int], list[int], list[int]]:
    recent = list(state.recent)
    return [r[0] for r in recent], [r[1] for r in recent], [r[2] for r in recent]


def team_states(teams: pd.DataFrame) -> dict[str, TeamState] | None:
    """The states of a ``teams.parquet`` table; None for an older table without them."""
    if any(column not in teams.columns for column in TEAM_STATE_COLUMNS):
        return None
    teams = with_later_team_features(teams)
    names = teams.index if "team" not in teams.columns else teams["team"]
    out = {}
    for name, elo, played, points, scored, conceded, attack, defence in zip(
        names,
        teams["elo"],
        teams["matches_played"],
        *(teams[c] for c in TEAM_STATE_COLUMNS),
        teams["attack"],
        teams["defence"],
        strict=True,
    ):
        recent = deque(zip(map(int, points), map(int, scored), map(int, conceded), strict=True))
        out[str(name)] = TeamState(
            float(elo),
            int(played),
            deque(recent, maxlen=FORM_WINDOW),
            float(attack),
            float(defence),
        )
    return out

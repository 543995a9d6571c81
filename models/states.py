"""Model input rows: the pre-match state of every match plus in-play states of some.

Each row has exactly ``MODEL_INPUT_COLUMNS`` and the match's final outcome as label, so one
model answers both a pre-match request and a live-score event. In-play rows are the states
at minutes 15, 30, ..., 90 and right after each goal, taken from :func:`match_timeline`.

Goal minutes are known for whole competitions at a time (the data covers, e.g., World Cup
qualifiers but not most friendlies). A 0-0 has no goal rows in either case, so taking "matches
with goal data" would over-sample goalless draws. A match gives in-play rows only when its
competition-year is covered (>= 90% of its matches with goals have goal rows) and its own
goal rows are complete (one per goal, all with a minute). Red cards are not in the data: they
are 0 in every training row, so the model learns nothing from them (documented limitation).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from models.data import MATCH_KEY
from models.features import LABEL_COLUMN
from models.timeline import Goal, match_timeline, score_at
from schemas.features import MODEL_INPUT_COLUMNS, TEAM_FEATURE_COLUMNS, model_frame

CHECKPOINTS: Final = (0, 15, 30, 45, 60, 75, 90)
COVERAGE_THRESHOLD: Final = 0.9
#: Extra columns kept beside the model input (not fed to the model).
META_COLUMNS: Final = ("match_id", "date", "row_kind", LABEL_COLUMN)


def inplay_eligible(results: pd.DataFrame, goals: pd.DataFrame) -> np.ndarray:
    """Which matches (rows of ``results``) have trustworthy goal minutes."""
    per_match = goals.groupby(MATCH_KEY, sort=False)["minute"].agg(["size", "count"])
    keyed = results.join(per_match, on=MATCH_KEY)
    rows = keyed["size"].fillna(0).to_numpy()
    with_minute = keyed["count"].fillna(0).to_numpy()
    total = (results["home_score"] + results["away_score"]).to_numpy()
    has_goals = total > 0
    group = pd.DataFrame(
        {
            "tournament": results["tournament"].to_numpy(),
            "year": results["date"].dt.year.to_numpy(),
            "covered": (rows > 0) & has_goals,
            "has_goals": has_goals,
        }
    )
    sums = group.groupby(["tournament", "year"])[["covered", "has_goals"]].transform("sum")
    share = (sums["covered"] / sums["has_goals"].where(sums["has_goals"] > 0)).fillna(0.0)
    # A competition-year made only of 0-0s tells us nothing: leave it out.
    competition_covered = share.to_numpy() >= COVERAGE_THRESHOLD
    complete = (rows == total) & (with_minute == total)
    return competition_covered & complete


def state_rows(
    prematch: pd.DataFrame,
    goals_by_match: dict[str, list[Goal]],
    eligible: np.ndarray,
    checkpoints: tuple[int, ...] = CHECKPOINTS,
    after_goals: bool = True,
) -> pd.DataFrame:
    """Pre-match rows for all matches plus in-play rows for the ``eligible`` ones.

    ``row_kind`` is ``pre`` (minute 0), ``checkpoint`` or ``goal``. Rows are grouped by match
    in the order of ``prematch``.
    """
    idx: list[int] = []
    minute: list[int] = []
    home_goals: list[int] = []
    away_goals: list[int] = []
    kind: list[str] = []
    match_ids = prematch["match_id"].to_numpy()
    home_scores = prematch["home_score"].to_numpy()
    away_scores = prematch["away_score"].to_numpy()
    for i in range(len(prematch)):
        idx.append(i)
        minute.append(0)
        home_goals.append(0)
        away_goals.append(0)
        kind.append("pre")
        if not eligible[i]:
            continue
        timeline = match_timeline(
            int(home_scores[i]), int(away_scores[i]), goals_by_match.get(match_ids[i], [])
        )
        for m in checkpoints:
            if m == 0:
                continue
            h, a = score_at(timeline, m)
            idx.append(i)
            minute.append(m)
            home_goals.append(h)
            away_goals.append(a)
            kind.append("checkpoint")
        if after_goals:
            for event in timeline:
                if event.status == "live" and event.minute > 0:
                    idx.append(i)
                    minute.append(event.minute)
                    home_goals.append(event.home_goals)
                    away_goals.append(event.away_goals)
                    kind.append("goal")

    base = prematch.iloc[np.asarray(idx, dtype=np.int64)].reset_index(drop=True)
    zeros = np.zeros(len(idx))  # no red cards in the historical data
    out = model_frame(
        base[[f"home_{c}" for c in TEAM_FEATURE_COLUMNS]],
        base[[f"away_{c}" for c in TEAM_FEATURE_COLUMNS]],
        base["neutral"],
        base["tournament"].tolist(),
        np.column_stack([minute, home_goals, away_goals, zeros, zeros]),
    )
    out["match_id"] = base["match_id"].to_numpy()
    out["date"] = base["date"].to_numpy()
    out["row_kind"] = kind
    out[LABEL_COLUMN] = base[LABEL_COLUMN].to_numpy()
    return out[[*MODEL_INPUT_COLUMNS, *META_COLUMNS]]


def checkpoint_rows(
    prematch: pd.DataFrame, goals_by_match: dict[str, list[Goal]], eligible: np.ndarray
) -> pd.DataFrame:
    """One row per eligible match and checkpoint minute (for in-play evaluation)."""
    rows = state_rows(
        prematch.loc[eligible].reset_index(drop=True),
        goals_by_match,
        np.ones(int(eligible.sum()), dtype=bool),
        after_goals=False,
    )
    return rows

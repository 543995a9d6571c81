"""The feature contract shared by training (``models``) and serving (``streams``).

Serving builds one row per event with exactly ``MODEL_INPUT_COLUMNS`` from the feature
tables plus the live match state, and hands the frame to the registered model, whose own
pipeline does all preprocessing. Training builds the same columns, so the two cannot drift.
"""

from __future__ import annotations

from typing import Final

#: Per-team columns of ``teams.parquet`` (indexed by ``team``), as of the last match the
#: training run saw. Serving reads these for the two teams of an event.
TEAM_FEATURE_COLUMNS: Final = ("elo", "form", "goals_for", "goals_against", "matches_played")

#: What a team never seen before gets (and what every team starts training with).
NEW_TEAM_FEATURES: Final[dict[str, float]] = {
    "elo": 1500.0,
    "form": 1.0,  # points per game over the recent window (draw-level prior)
    "goals_for": 1.3,
    "goals_against": 1.3,
    "matches_played": 0.0,
}

#: Columns of ``matches.parquet`` (indexed by ``match_id``).
MATCH_COLUMNS: Final = ("match_id", "date", "home_team", "away_team", "neutral", "tournament")

#: Live state columns (all 0 for a pre-match request).
STATE_COLUMNS: Final = ("minute", "home_goals", "away_goals", "home_red_cards", "away_red_cards")

#: The exact input frame of the registered model, in order.
MODEL_INPUT_COLUMNS: Final = (
    *(f"home_{c}" for c in TEAM_FEATURE_COLUMNS),
    *(f"away_{c}" for c in TEAM_FEATURE_COLUMNS),
    "neutral",  # 0/1
    "tournament",  # raw name; the model maps it to a weight itself
    *STATE_COLUMNS,
)

#: Probability columns the model returns, in order.
OUTCOMES: Final = ("home", "draw", "away")

#: File names inside ``FEATURES_DIR``.
TEAMS_FILE: Final = "teams.parquet"
MATCHES_FILE: Final = "matches.parquet"
MANIFEST_FILE: Final = "manifest.json"  # {"features_version": str, "created_at": RFC 3339}

"""Small builders of records the unit tests share: raw input records, livescores, requests
and a feature snapshot."""

from __future__ import annotations

import datetime as dt
import json

from schemas import Livescore, MatchRequest
from streams.flow.records import RawRecord
from streams.live.feature_snapshot import FeatureSnapshot, Fixture
from streams.live.team_ratings import TeamRatings


def raw(value: bytes | None, key: bytes | None = b"m1", topic: str = "livescores") -> RawRecord:
    return RawRecord(topic=topic, partition=0, offset=7, key=key, value=value, timestamp=0.0)


def livescore(**overrides: object) -> Livescore:
    body = {
        "match_id": "m1",
        "seq": 1,
        "ts": "2024-06-14T19:00:00Z",
        "status": "live",
        "minute": 10,
        "home_goals": 1,
        "away_goals": 0,
    } | overrides
    return Livescore.model_validate_json(json.dumps(body))


def request(**overrides: object) -> MatchRequest:
    body = {"request_id": "r", "match_id": "m1"} | overrides
    return MatchRequest.model_validate_json(json.dumps(body))


SNAPSHOT = FeatureSnapshot(
    version="v-test",
    created_at=None,
    loaded_at=dt.datetime.now(dt.UTC),
    teams={"Germany": (1900.0, 2.2, 2.1, 0.8, 40.0), "Scotland": (1650.0, 1.2, 1.1, 1.4, 38.0)},
    fixtures={"m1": Fixture("Germany", "Scotland", False, "UEFA Euro")},
)


def ratings_of(snapshot: FeatureSnapshot = SNAPSHOT) -> TeamRatings:
    """Team ratings standing on ``snapshot`` with no results applied yet."""
    ratings = TeamRatings()
    ratings.rebase(snapshot)
    return ratings


READ_AT = dt.datetime(2024, 6, 14, 19, 0, tzinfo=dt.UTC)

"""Small builders of records the unit tests share: raw input records, livescores, requests,
predictions, results, in-memory tables and a feature snapshot."""

from __future__ import annotations

import datetime as dt
import json

from schemas import Livescore, MatchRequest, MatchResult, ModelRef, Prediction
from streams.faust_glue.match_keyed import MatchKey, MatchKeyed, key_bytes
from streams.faust_glue.partitions import partition_of
from streams.faust_glue.recency import RecentlyWritten
from streams.faust_glue.table_writer import TableWriter
from streams.flow.records import RawRecord
from streams.live.feature_snapshot import FeatureSnapshot, Fixture
from streams.live.team_ratings import TeamRatings
from streams.read_models.outputs import rank
from streams.sinks.memory import InMemorySender


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


def model_ref(version: str = "3", alias: str = "champion") -> ModelRef:
    return ModelRef(name="soccer_clf", version=version, alias=alias, run_id=None)


def prediction(
    probabilities: tuple[float, float, float] = (0.5, 0.3, 0.2),
    version: str = "3",
    alias: str = "champion",
    at: dt.datetime | None = None,
    **state: object,
) -> Prediction:
    """A prediction of the livescore ``livescore(**state)``, made at ``at``."""
    return Prediction.for_livescore(
        livescore(**state),
        list(probabilities),
        model=model_ref(version, alias),
        features_version="v-test+0",
        predicted_at=at or READ_AT,
    )


def answer(
    state: Livescore | None = None,
    request_id: str = "r",
    probabilities: tuple[float, float, float] = (0.4, 0.35, 0.25),
    version: str = "3",
    at: dt.datetime | None = None,
) -> Prediction:
    """The answer to a request, for ``state`` (None: before kick-off)."""
    return Prediction.for_request(
        request(request_id=request_id, match_id=state.match_id if state else "m1"),
        list(probabilities),
        model=model_ref(version),
        features_version="v-test+0",
        received_at=at or READ_AT,
        state=state,
        predicted_at=at or READ_AT,
    )


def result(**overrides: object) -> MatchResult:
    body = {
        "match_id": "m1",
        "seq": 9,
        "date": "2024-06-14",
        "finished_at": "2024-06-14T20:50:00Z",
        "home_team": "Germany",
        "away_team": "Scotland",
        "neutral": False,
        "tournament": "UEFA Euro",
        "home_goals": 2,
        "away_goals": 1,
    } | overrides
    return MatchResult.model_validate_json(json.dumps(body))


def output(record: Prediction | MatchResult, topic: str, offset: int = 0) -> RawRecord:
    """An output record as the read models' agent reads it back."""
    value = record.model_dump_json().encode()
    return RawRecord(topic, 0, offset, record.match_id.encode(), value, 0.0)


def memory_table(sent: InMemorySender | None = None) -> TableWriter[str]:
    """A table keyed by match id, its changelog records to ``sent``; it lists its keys
    least recently written first, as ``streams.app.match_table``'s store does."""
    return TableWriter(RecentlyWritten(), sent or InMemorySender(), str.encode, lambda _: None)


def match_keyed_table(
    partitions: int = 6, sent: InMemorySender | None = None
) -> tuple[TableWriter[MatchKey], MatchKeyed]:
    """The outputs' match-keyed table in memory, as ``match_keyed_table`` builds it on an
    app (its keys kept in timeline order)."""
    listing = MatchKeyed(order=rank)
    writer: TableWriter[MatchKey] = TableWriter(
        listing, sent or InMemorySender(), key_bytes, lambda key: partition_of(key[0], partitions)
    )
    return writer, listing


SNAPSHOT = FeatureSnapshot(
    version="v-test",
    created_at=None,
    loaded_at=dt.datetime.now(dt.UTC),
    teams={
        "Germany": (1900.0, 2.2, 2.1, 0.8, 40.0, 0.4, 0.3),
        "Scotland": (1650.0, 1.2, 1.1, 1.4, 38.0, -0.1, -0.2),
    },
    fixtures={"m1": Fixture("Germany", "Scotland", False, "UEFA Euro")},
)


def ratings_of(snapshot: FeatureSnapshot = SNAPSHOT) -> TeamRatings:
    """Team ratings standing on ``snapshot`` with no results applied yet."""
    ratings = TeamRatings()
    ratings.rebase(snapshot)
    return ratings


READ_AT = dt.datetime(2024, 6, 14, 19, 0, tzinfo=dt.UTC)

"""One event in, one prediction out: the service's own functions, without Faust.

The Celery and Quix Streams versions call :meth:`OneByOne.predict`, so all three designs
run the same decode (``streams.flow.decode``), feature lookup (``streams.flow.enrich`` on
the team ratings of a ``streams.live.feature_snapshot``), registry model
(``streams.live.model_source.RegistrySource``) and output record
(``streams.flow.predict.prediction_for``); only the plumbing around them differs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from schemas import DeadLetterReason, Livescore, ModelRef
from streams.flow.decode import decode
from streams.flow.enrich import Job, resolve, serving_input
from streams.flow.predict import predict_rows, prediction_for
from streams.flow.records import RawRecord
from streams.live.feature_snapshot import load_snapshot
from streams.live.model_source import Predictor, RegistrySource
from streams.live.team_ratings import TeamRatings
from streams.settings import Settings


@dataclass
class OneByOne:
    """The champion model and a feature snapshot, answering one livescore at a time."""

    ref: ModelRef
    predictor: Predictor
    ratings: TeamRatings

    @classmethod
    def load(cls, settings: Settings) -> OneByOne:
        source = RegistrySource(settings.model_name, settings.registry_uri)
        ref = source.resolve(settings.model_alias)
        ratings = TeamRatings()
        ratings.rebase(load_snapshot(settings.features_dir))
        return cls(ref=ref, predictor=source.load(ref), ratings=ratings)

    def predict(self, key: bytes | None, value: bytes, topic: str = "livescores") -> bytes:
        """The prediction JSON for one livescore; raises ValueError for a bad input."""
        raw = RawRecord(topic, 0, 0, key, value, dt.datetime.now(dt.UTC).timestamp())
        record = decode(raw, Livescore)
        if isinstance(record, DeadLetterReason):
            raise ValueError(f"{record.type}: {record.message}")
        assert isinstance(record, Livescore)
        job = Job(raw=raw, record=record, state=record)
        read_at = dt.datetime.now(dt.UTC)
        if not resolve(self.ratings, job, read_at):
            raise ValueError(f"unknown_match: {record.match_id}")
        frame, _ = serving_input(self.ratings, [job])
        output = predict_rows(self.predictor, frame)[0]
        prediction = prediction_for(job, output, self.ref, self.ratings.version, read_at)
        return prediction.model_dump_json().encode()

"""One event in, one prediction out: the service's own functions, without Faust.

The Celery and Quix Streams versions call :meth:`OneByOne.predict`, so all three designs
run the same decode (``streams.flow.decode``), feature lookup (``streams.flow.enrich`` on a
``streams.live.feature_snapshot``), registry model (``models.registry`` via
``streams.live.model_source``) and output schema; only the plumbing around them differs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from schemas import DeadLetterReason, Livescore, ModelRef, Prediction
from streams.flow.decode import decode
from streams.flow.enrich import Job, model_frame, resolve_fixture
from streams.flow.records import RawRecord
from streams.live.feature_snapshot import FeatureSnapshot, load_snapshot
from streams.live.model_server import Predictor
from streams.live.model_source import registry_loader, registry_resolver
from streams.settings import Settings


@dataclass
class OneByOne:
    """The champion model and a feature snapshot, answering one livescore at a time."""

    ref: ModelRef
    predictor: Predictor
    snapshot: FeatureSnapshot

    @classmethod
    def load(cls, settings: Settings) -> OneByOne:
        ref = registry_resolver(settings)(settings.model_alias)
        return cls(
            ref=ref,
            predictor=registry_loader(settings)(ref),
            snapshot=load_snapshot(settings.features_dir),
        )

    def predict(self, key: bytes | None, value: bytes, topic: str = "livescores") -> bytes:
        """The prediction JSON for one livescore; raises ValueError for a bad input."""
        raw = RawRecord(topic, 0, 0, key, value, dt.datetime.now(dt.UTC).timestamp())
        record = decode(raw, Livescore)
        if isinstance(record, DeadLetterReason):
            raise ValueError(f"{record.type}: {record.message}")
        assert isinstance(record, Livescore)
        job = Job(raw=raw, record=record, state=record)
        job.fixture = resolve_fixture(self.snapshot, job)
        if job.fixture is None:
            raise ValueError(f"unknown_match: {record.match_id}")
        frame, _ = model_frame(self.snapshot, [job])
        probabilities = self.predictor.predict_proba(frame)[0]
        prediction = Prediction.for_livescore(
            record, probabilities, model=self.ref, features_version=self.snapshot.version
        )
        return prediction.model_dump_json().encode()

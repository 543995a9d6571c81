"""One micro-batch through the flow: decode, remember state, enrich, predict, publish.

The agents hand each batch of raw records to :class:`BatchProcessor`. When a handler
returns, every input of the batch has its prediction or dead letter acknowledged by the
broker (see :mod:`streams.flow.publish`).
"""

from __future__ import annotations

import datetime as dt
import time

from schemas import DeadLetter, Livescore, MatchRequest, Trigger
from streams.flow.dead_letters import dead_letter
from streams.flow.decode import decode
from streams.flow.enrich import Job, resolve_fixture, serving_frame
from streams.flow.match_state import MatchStates
from streams.flow.predict import infer, prediction_for
from streams.flow.publish import Published, Publisher
from streams.flow.records import RawRecord
from streams.live.feature_store import FeatureStore
from streams.live.model_server import ModelServer
from streams.metrics import Metrics


class BatchProcessor:
    """Turns batches of raw input records into published predictions and dead letters."""

    def __init__(
        self,
        *,
        states: MatchStates,
        models: ModelServer,
        features: FeatureStore,
        publisher: Publisher,
        metrics: Metrics,
    ) -> None:
        self.states = states
        self.models = models
        self.features = features
        self.publisher = publisher
        self.metrics = metrics

    async def livescores(self, raws: list[RawRecord]) -> None:
        started = time.perf_counter()
        jobs, letters, events = [], [], []
        for raw in raws:
            record = decode(raw, Livescore)
            if not isinstance(record, Livescore):
                letters.append(dead_letter(raw, record.type, record.message, self.metrics))
                continue
            events.append(record)
            jobs.append(Job(raw=raw, record=record, state=record))
        self.states.remember(events)
        await self._finish(raws, jobs, letters, "livescore", started)

    async def requests(self, raws: list[RawRecord]) -> None:
        started = time.perf_counter()
        jobs, letters = [], []
        for raw in raws:
            record = decode(raw, MatchRequest)
            if not isinstance(record, MatchRequest):
                letters.append(dead_letter(raw, record.type, record.message, self.metrics))
                continue
            jobs.append(Job(raw=raw, record=record, state=self.states.get(record.match_id)))
        await self._finish(raws, jobs, letters, "request", started)

    async def _finish(
        self,
        raws: list[RawRecord],
        jobs: list[Job],
        letters: list[DeadLetter],
        trigger: Trigger,
        started: float,
    ) -> None:
        if raws:
            self.metrics.events_in.labels(topic=raws[0].topic).inc(len(raws))
            self.metrics.batch_size.observe(len(raws))
        read_at = dt.datetime.now(dt.UTC)
        published = await self._predict(jobs, letters, read_at) if jobs else []
        await self.publisher.publish(published, letters, trigger, started)

    async def _predict(
        self, jobs: list[Job], letters: list[DeadLetter], read_at: dt.datetime
    ) -> list[Published]:
        # Until a model and a snapshot exist the batch waits, unacknowledged: /ready says
        # why, and nothing is lost or dead-lettered for a start-up condition.
        await self.models.ready.wait()
        await self.features.ready.wait()
        serving, snapshot = self.models.current, self.features.current
        assert serving is not None and snapshot is not None  # set before ready is

        resolved = []
        for job in jobs:
            job.fixture = resolve_fixture(snapshot, job)
            if job.fixture is None:
                message = (
                    f"match {job.record.match_id!r} is not in the feature tables "
                    f"({snapshot.version}) and the event names no teams"
                )
                letters.append(dead_letter(job.raw, "unknown_match", message, self.metrics))
            else:
                resolved.append(job)
        if not resolved:
            return []
        frame, unknown_teams = serving_frame(snapshot, resolved)
        if unknown_teams:
            self.metrics.unknown_teams.inc(unknown_teams)
        results = await infer(serving.predictor, frame, self.metrics)

        out = []
        for job, result in zip(resolved, results, strict=True):
            try:
                if isinstance(result, Exception):
                    raise result
                prediction = prediction_for(job, result, serving.ref, snapshot.version, read_at)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                letters.append(dead_letter(job.raw, "model_error", reason, self.metrics))
            else:
                out.append(Published(job.raw, prediction))
        return out

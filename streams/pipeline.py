"""The per-batch flow: decode, remember state, enrich, predict, publish.

Agents hand each micro-batch of raw records to :class:`Pipeline`. When a handler returns,
every input of the batch has its prediction or dead letter acknowledged by the broker,
so acknowledging the inputs afterwards gives at-least-once delivery.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import numpy as np
import structlog
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NodeNotReadyError,
)

from schemas import (
    DeadLetter,
    DeadLetterError,
    Livescore,
    MatchRequest,
    ModelRef,
    Prediction,
    Trigger,
)
from streams.dead_letters import dead_letter
from streams.decode import decode
from streams.enrich import Job, model_frame, resolve_fixture
from streams.features.store import FeatureStore
from streams.inference import infer
from streams.latest_store import LatestStore, LatestValue
from streams.metrics import Metrics
from streams.model_server import ModelServer
from streams.records import RawRecord
from streams.settings import Settings

log = structlog.get_logger(__name__)
# (key, value) -> a future that resolves when the broker acknowledged the record
Sender = Callable[[bytes | None, bytes], Awaitable[Awaitable[Any]]]
RETRY_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0)


def _retriable(error: BaseException) -> bool:
    """Broker unavailability is waited out; a record the broker refuses for good is not."""
    cause = error.__cause__ if error.__cause__ is not None else error
    if isinstance(cause, KafkaError):
        return bool(getattr(cause, "retriable", False)) or isinstance(
            cause, KafkaConnectionError | KafkaTimeoutError | NodeNotReadyError
        )
    return isinstance(cause, OSError | asyncio.TimeoutError)


class Pipeline:
    """Everything a batch needs, owned by the Faust app (see ``streams.app``)."""

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        features: FeatureStore,
        models: ModelServer,
        latest: LatestStore,
        match_to_state: MutableMapping[str, bytes],
        send_prediction: Sender,
        send_dead_letter: Sender,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.features = features
        self.models = models
        self.latest = latest
        self.match_to_state = match_to_state
        self.send_prediction = send_prediction
        self.send_dead_letter = send_dead_letter
        self.recent: list[Prediction] = []  # newest last, for the status page

    # -- state ------------------------------------------------------------
    def state_of(self, match_id: str) -> Livescore | None:
        stored = self.match_to_state.get(match_id)
        return Livescore.model_validate_json(stored) if stored is not None else None

    def remember(self, events: list[Livescore]) -> None:
        """Keep the newest state per match; a late, older event does not move it back.

        One table write (one changelog record) per match per batch, not per event: a
        backlog or replay often carries several events of a match in one batch, and each
        write is a produce through Faust's changelog buffer.
        """
        newest: dict[str, Livescore] = {}
        for event in events:
            seen = newest.get(event.match_id)
            if seen is None or event.seq > seen.seq:
                newest[event.match_id] = event
        for match_id, event in newest.items():
            held = self.state_of(match_id)
            if held is None or event.seq > held.seq:
                self.match_to_state[match_id] = event.model_dump_json().encode()

    # -- batches ----------------------------------------------------------
    async def handle_livescores(self, raws: list[RawRecord]) -> None:
        started = time.perf_counter()
        jobs, letters, events = [], [], []
        for raw in raws:
            record = decode(raw, Livescore)
            if isinstance(record, DeadLetterError):
                letters.append(dead_letter(raw, record.type, record.message, self.metrics))
                continue
            assert isinstance(record, Livescore)
            events.append(record)
            jobs.append(Job(raw=raw, record=record, state=record))
        self.remember(events)
        await self._finish(raws, jobs, letters, "livescore", started)

    async def handle_requests(self, raws: list[RawRecord]) -> None:
        started = time.perf_counter()
        jobs, letters = [], []
        for raw in raws:
            record = decode(raw, MatchRequest)
            if isinstance(record, DeadLetterError):
                letters.append(dead_letter(raw, record.type, record.message, self.metrics))
                continue
            jobs.append(Job(raw=raw, record=record, state=self.state_of(record.match_id)))
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
        predictions = await self._predict(jobs, letters, read_at) if jobs else []
        await self._publish(predictions, letters, trigger, started)

    async def _predict(
        self, jobs: list[Job], letters: list[DeadLetter], read_at: dt.datetime
    ) -> list[tuple[Job, Prediction]]:
        # Until a model and a snapshot exist the batch waits, unacknowledged: /ready says
        # why, and nothing is lost or dead-lettered for a start-up condition.
        await self.models.ready.wait()
        await self.features.ready.wait()
        serving, snapshot = self.models.current, self.features.current
        assert serving is not None and snapshot is not None

        resolved = []
        for job in jobs:
            job.fixture = resolve_fixture(snapshot, job)
            if job.fixture is None:
                letters.append(
                    dead_letter(
                        job.raw,
                        "unknown_match",
                        f"match {job.record.match_id!r} is not in the feature tables "
                        f"({snapshot.version}) and the event names no teams",
                        self.metrics,
                    )
                )
            else:
                resolved.append(job)
        if not resolved:
            return []
        frame, unknown_teams = model_frame(snapshot, resolved)
        if unknown_teams:
            self.metrics.unknown_teams.inc(unknown_teams)
        results = await infer(serving.predictor, frame, self.metrics)

        out = []
        for job, result in zip(resolved, results, strict=True):
            try:
                if isinstance(result, Exception):
                    raise result
                out.append(
                    (job, self._prediction(job, result, serving.ref, snapshot.version, read_at))
                )
            except Exception as exc:
                letters.append(
                    dead_letter(
                        job.raw, "model_error", f"{type(exc).__name__}: {exc}", self.metrics
                    )
                )
        return out

    @staticmethod
    def _prediction(
        job: Job,
        probabilities: np.ndarray,
        ref: ModelRef,
        features_version: str,
        read_at: dt.datetime,
    ) -> Prediction:
        if isinstance(job.record, Livescore):
            return Prediction.for_livescore(
                job.record, probabilities, model=ref, features_version=features_version
            )
        return Prediction.for_request(
            job.record,
            probabilities,
            model=ref,
            features_version=features_version,
            received_at=read_at,
            state=job.state,
        )

    # -- outputs ----------------------------------------------------------
    async def _publish(
        self,
        predictions: list[tuple[Job, Prediction]],
        letters: list[DeadLetter],
        trigger: Trigger,
        started: float | None,
    ) -> None:
        """Produce every output, wait for the broker's acks, then write Redis.

        ``started`` (``time.perf_counter()``) is when the batch's work began; None for a
        failed batch's dead letters, whose work is not a compute stage.
        """
        records: list[tuple[Sender, bytes | None, bytes]] = []
        latest = []
        for _, prediction in predictions:
            body = prediction.model_dump_json().encode()
            records.append((self.send_prediction, prediction.match_id.encode(), body))
            rank = prediction.seq if prediction.seq is not None else -1
            latest.append(
                LatestValue(self.settings.redis_key(prediction.match_id), rank, body.decode())
            )
        for letter in letters:
            records.append(
                (self.send_dead_letter, letter.key_bytes(), letter.model_dump_json().encode())
            )
        stage = self.metrics.batch_stage
        sending = time.perf_counter()
        if started is not None:
            stage.labels(stage="compute").observe(sending - started)
        await self._produce_until_acknowledged(records)
        acknowledged = time.perf_counter()
        stage.labels(stage="produce").observe(acknowledged - sending)

        now = time.time()
        if predictions:
            self.metrics.predictions_out.labels(trigger=trigger).inc(len(predictions))
            histogram = self.metrics.latency.labels(trigger=trigger)
            for job, _ in predictions:
                histogram.observe(max(0.0, now - job.raw.timestamp))
            self.recent = (self.recent + [p for _, p in predictions])[-20:]
        await self.latest.write(latest)
        stage.labels(stage="redis").observe(time.perf_counter() - acknowledged)

    async def publish_dead_letters(self, letters: list[DeadLetter]) -> None:
        """Produce dead letters only (the agents' last resort for a failed batch)."""
        await self._publish([], letters, "livescore", None)

    async def _produce_until_acknowledged(
        self, records: list[tuple[Sender, bytes | None, bytes]]
    ) -> None:
        """Send all, wait for the broker's acks; re-send what failed until it succeeds.

        The inputs stay unacknowledged meanwhile, so a broker outage stalls the agent
        instead of losing outputs; a re-send may duplicate a record (at least once).
        """
        pending = records
        attempt = 0
        while pending:
            results: list[object] = []
            for send, key, value in pending:
                try:
                    results.append(await send(key, value))
                except Exception as exc:  # faust wraps broker errors in its own type
                    results.append(exc)
            waiting = [r for r in results if not isinstance(r, BaseException)]
            acked = iter(await asyncio.gather(*waiting, return_exceptions=True))
            outcomes = [r if isinstance(r, BaseException) else next(acked) for r in results]
            failed = [
                rec
                for rec, out in zip(pending, outcomes, strict=True)
                if isinstance(out, BaseException)
            ]
            if failed:
                error = next(o for o in outcomes if isinstance(o, BaseException))
                if not _retriable(error):
                    raise error
                delay = RETRY_BACKOFF_SECONDS[min(attempt, len(RETRY_BACKOFF_SECONDS) - 1)]
                log.warning(
                    "produce_failed", records=len(failed), retry_in=delay, error=repr(error)
                )
                await asyncio.sleep(delay)
                attempt += 1
            pending = failed

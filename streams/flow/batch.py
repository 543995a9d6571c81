"""One micro-batch through the flow: decode, match memory, enrich, predict, publish, score.

The agents hand each batch of raw records to :class:`BatchProcessor`. A handler returns
once the batch's outputs (predictions, dead letters, results, scores) are handed to the
producer and its match memories are written, so the next batch may start; it returns the
batch's *confirmation*, which completes when the broker has acknowledged every output (see
:mod:`streams.flow.publish`), Redis is written and the challengers' shadow predictions are
published. Only then may the batch's inputs be acknowledged.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field

import structlog

from schemas import (
    DeadLetter,
    Livescore,
    MatchMemory,
    MatchRequest,
    MatchResult,
    MatchScore,
    Prediction,
    Trigger,
)
from streams.flow.dead_letters import dead_letter
from streams.flow.decode import decode
from streams.flow.enrich import Job, resolve, serving_frame
from streams.flow.match_state import MatchMemories, remember_states
from streams.flow.predict import infer, prediction_for
from streams.flow.publish import Published, Publisher, Sending
from streams.flow.records import RawRecord
from streams.flow.scoring import remember_forecast, score_match
from streams.flow.shadow import ShadowRun, ShadowRunner
from streams.flow.timeline import remember_point, remember_teams
from streams.live.feature_store import FeatureStore
from streams.live.model_server import ModelServer
from streams.live.team_ratings import TeamRatings
from streams.metrics import Metrics

log = structlog.get_logger(__name__)
#: What a handler returns: completes once the batch's outputs are acknowledged.
Confirmation = Awaitable[None]


@dataclass
class Batch:
    """Everything one batch produces, gathered on its way through the flow."""

    raws: list[RawRecord]
    jobs: list[Job]
    letters: list[DeadLetter]
    trigger: Trigger
    started: float
    memories: dict[str, MatchMemory]
    #: The batch's livescores (none for requests): the states to remember.
    events: list[Livescore] = field(default_factory=list)
    #: Each finished match's state before this batch: a final score below it is refused.
    finished_before: dict[str, Livescore | None] = field(default_factory=dict)
    read_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    published: list[Published] = field(default_factory=list)
    shadow_runs: list[ShadowRun] = field(default_factory=list)
    resolved: list[Job] = field(default_factory=list)
    features_version: str = ""


class BatchProcessor:
    """Turns batches of raw input records into published predictions and dead letters."""

    def __init__(
        self,
        *,
        memories: MatchMemories,
        models: ModelServer,
        features: FeatureStore,
        ratings: TeamRatings,
        publisher: Publisher,
        shadow: ShadowRunner,
        metrics: Metrics,
        write_results: bool,
    ) -> None:
        self.memories = memories
        self.models = models
        self.features = features
        self.ratings = ratings
        self.publisher = publisher
        self.shadow = shadow
        self.metrics = metrics
        self.write_results = write_results

    async def livescores(self, raws: list[RawRecord]) -> Confirmation:
        started = time.perf_counter()
        jobs, letters, events = [], [], []
        for raw in raws:
            record = decode(raw, Livescore)
            if not isinstance(record, Livescore):
                letters.append(dead_letter(raw, record.type, record.message, self.metrics))
                continue
            events.append(record)
            jobs.append(Job(raw=raw, record=record, state=record))
        now = dt.datetime.now(dt.UTC)
        memories = self.memories.load({e.match_id for e in events}, now)
        batch = Batch(raws, jobs, letters, "livescore", started, memories, read_at=now)
        batch.events = events
        batch.finished_before = {
            e.match_id: memories[e.match_id].state for e in events if e.status == "finished"
        }
        return await self._finish(batch)

    async def requests(self, raws: list[RawRecord]) -> Confirmation:
        started = time.perf_counter()
        jobs, letters, requests = [], [], []
        for raw in raws:
            record = decode(raw, MatchRequest)
            if not isinstance(record, MatchRequest):
                letters.append(dead_letter(raw, record.type, record.message, self.metrics))
                continue
            requests.append((raw, record))
        now = dt.datetime.now(dt.UTC)
        memories = self.memories.load({r.match_id for _, r in requests}, now)
        for raw, record in requests:
            jobs.append(Job(raw=raw, record=record, state=memories[record.match_id].state))
        return await self._finish(
            Batch(raws, jobs, letters, "request", started, memories, read_at=now)
        )

    async def _finish(self, batch: Batch) -> Confirmation:
        if batch.raws:
            self.metrics.events_in.labels(topic=batch.raws[0].topic).inc(len(batch.raws))
            self.metrics.batch_size.observe(len(batch.raws))
        if batch.jobs:
            await self._predict(batch)
        results = self._results(batch) if self.write_results else []
        sending = await self.publisher.send(
            batch.published, batch.letters, batch.trigger, batch.started, results
        )
        # Before the next batch reads them: its requests are answered for these states.
        self._write_memories(batch, [item.prediction for item in batch.published])
        return self._confirm(batch, sending)

    async def _confirm(self, batch: Batch, sending: Sending) -> None:
        await self.publisher.confirm(sending)
        # After the champion's outputs are acknowledged: its path never waits on these.
        shadow = await self._shadow_predictions(batch)
        if shadow:
            await self.publisher.publish_shadow(shadow)
            self._remember_shadow(shadow)
        # Last, so the challengers' forecasts of this very batch are scored too.
        await self._score_finished(batch)

    async def _score_finished(self, batch: Batch) -> None:
        """Every model's remembered forecasts of the batch's finished matches, scored."""
        finished = [
            (job, event)
            for job, event in self._finished_jobs(batch)
            if job.date is not None
            and self._refusal(job, event, batch.finished_before.get(event.match_id))
            != "score_went_down"
        ]
        if not finished:
            return
        now = dt.datetime.now(dt.UTC)
        memories = self.memories.load({event.match_id for _, event in finished}, now)
        scores: list[MatchScore] = []
        for job, event in finished:
            assert job.date is not None  # filtered above
            scores.extend(
                score_match(
                    event.match_id,
                    job.date,
                    memories[event.match_id],
                    event.home_goals,
                    event.away_goals,
                    now,
                )
            )
        await self.publisher.publish_scores(scores)

        def scored(_: str, memory: MatchMemory) -> None:
            memory.finished_at = now

        self.memories.update(memories, scored, now)

    def _remember_shadow(self, shadow: Sequence[Prediction]) -> None:
        predicted: dict[str, list[Prediction]] = defaultdict(list)
        for prediction in shadow:
            predicted[prediction.match_id].append(prediction)

        def change(match_id: str, memory: MatchMemory) -> None:
            for prediction in predicted[match_id]:
                remember_forecast(memory, prediction)

        self.memories.update(predicted, change, dt.datetime.now(dt.UTC))

    def _write_memories(self, batch: Batch, forecasts: Sequence[Prediction]) -> None:
        """This batch's changes, applied to each match's memory as it is now (the other
        agent may have written it while this batch awaited)."""
        events: dict[str, list[Livescore]] = defaultdict(list)
        for event in batch.events:
            events[event.match_id].append(event)
        predicted: dict[str, list[Prediction]] = defaultdict(list)
        for prediction in forecasts:
            predicted[prediction.match_id].append(prediction)
        jobs = {job.record.match_id: job for job in batch.resolved}
        now = dt.datetime.now(dt.UTC)

        def change(match_id: str, memory: MatchMemory) -> None:
            remember_states({match_id: memory}, events.get(match_id, ()))
            # A request is answered for the stored state: its red cards are there.
            states = (*events.get(match_id, ()), *((memory.state,) if memory.state else ()))
            for prediction in predicted.get(match_id, ()):
                remember_forecast(memory, prediction)
                remember_point(memory, prediction, states)
            remember_teams(memory, jobs.get(match_id))

        self.memories.update(batch.memories, change, now)

    async def _predict(self, batch: Batch) -> None:
        # Until a model and a snapshot exist the batch waits, unacknowledged: /ready says
        # why, and nothing is lost or dead-lettered for a start-up condition.
        await self.models.ready.wait()
        await self.features.ready.wait()
        serving, ratings = self.models.current, self.ratings
        assert serving is not None  # set before ready is

        for job in batch.jobs:
            if not resolve(ratings, job, batch.read_at):
                message = (
                    f"match {job.record.match_id!r} is not in the feature tables "
                    f"({ratings.version}) and the event names no teams"
                )
                batch.letters.append(dead_letter(job.raw, "unknown_match", message, self.metrics))
            else:
                batch.resolved.append(job)
        if not batch.resolved:
            return
        # The frame and the version it names are taken together, before the next await
        # (results read meanwhile would change the ratings under the version).
        frame, unknown_teams = serving_frame(ratings, batch.resolved)
        batch.features_version = ratings.version
        if unknown_teams:
            self.metrics.unknown_teams.inc(unknown_teams)
        batch.shadow_runs = self.shadow.begin(self.models.challengers, frame)
        results = await infer(serving.predictor, frame, self.metrics)

        for job, result in zip(batch.resolved, results, strict=True):
            try:
                if isinstance(result, Exception):
                    raise result
                prediction = prediction_for(
                    job, result, serving.ref, batch.features_version, batch.read_at
                )
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                batch.letters.append(dead_letter(job.raw, "model_error", reason, self.metrics))
            else:
                batch.published.append(Published(job.raw, prediction))

    async def _shadow_predictions(self, batch: Batch) -> list[Prediction]:
        """The challengers' predictions of the batch's jobs (those that came in time)."""
        out = []
        for model, probabilities in await self.shadow.finish(batch.shadow_runs):
            made = 0
            for job, row in zip(batch.resolved, probabilities, strict=True):
                try:
                    out.append(
                        prediction_for(job, row, model.ref, batch.features_version, batch.read_at)
                    )
                    made += 1
                except ValueError:
                    self.metrics.shadow_skipped.labels(
                        version=model.ref.version, reason="bad_output"
                    ).inc()
            self.metrics.shadow_predictions.labels(version=model.ref.version).inc(made)
        return out

    def _finished_jobs(self, batch: Batch) -> Sequence[tuple[Job, Livescore]]:
        return [
            (job, job.record)
            for job in batch.jobs
            if isinstance(job.record, Livescore) and job.record.status == "finished"
        ]

    def _results(self, batch: Batch) -> list[MatchResult]:
        """The final scores of this batch's finished matches, for the results topic."""
        results = []
        for job, event in self._finished_jobs(batch):
            reason = self._refusal(job, event, batch.finished_before.get(event.match_id))
            if reason is not None:
                self.metrics.results_rejected.labels(reason=reason).inc()
                log.info("result_refused", match_id=event.match_id, seq=event.seq, reason=reason)
                continue
            assert job.fixture is not None and job.date is not None  # checked by _refusal
            results.append(
                MatchResult(
                    match_id=event.match_id,
                    seq=event.seq,
                    date=job.date,
                    finished_at=event.ts,
                    home_team=job.fixture.home_team,
                    away_team=job.fixture.away_team,
                    neutral=job.fixture.neutral,
                    tournament=job.fixture.tournament,
                    home_goals=event.home_goals,
                    away_goals=event.away_goals,
                )
            )
        return results

    @staticmethod
    def _refusal(job: Job, event: Livescore, before: Livescore | None) -> str | None:
        """Why a finished event cannot be a result, or None."""
        if job.fixture is None or job.date is None:
            return "no_teams"
        live_before = before is not None and before.status != "finished" and before.seq < event.seq
        if live_before and (
            event.home_goals < before.home_goals or event.away_goals < before.away_goals
        ):
            return "score_went_down"  # a feed glitch; a real correction is a later finished event
        return None

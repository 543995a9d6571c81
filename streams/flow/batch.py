"""One micro-batch through the flow: decode, remember state, enrich, predict, publish.

The agents hand each batch of raw records to :class:`BatchProcessor`. When a handler
returns, every input of the batch has its prediction or dead letter acknowledged by the
broker (see :mod:`streams.flow.publish`).
"""

from __future__ import annotations

import datetime as dt
import time

import structlog

from schemas import DeadLetter, Livescore, MatchRequest, MatchResult, Trigger
from streams.flow.dead_letters import dead_letter
from streams.flow.decode import decode
from streams.flow.enrich import Job, resolve, serving_frame
from streams.flow.match_state import MatchStates
from streams.flow.predict import infer, prediction_for
from streams.flow.publish import Published, Publisher
from streams.flow.records import RawRecord
from streams.live.feature_store import FeatureStore
from streams.live.model_server import ModelServer
from streams.live.team_ratings import TeamRatings
from streams.metrics import Metrics

log = structlog.get_logger(__name__)


class BatchProcessor:
    """Turns batches of raw input records into published predictions and dead letters."""

    def __init__(
        self,
        *,
        states: MatchStates,
        models: ModelServer,
        features: FeatureStore,
        ratings: TeamRatings,
        publisher: Publisher,
        metrics: Metrics,
        write_results: bool,
    ) -> None:
        self.states = states
        self.models = models
        self.features = features
        self.ratings = ratings
        self.publisher = publisher
        self.metrics = metrics
        self.write_results = write_results

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
        # Each finished match's state before this batch: a final score below it is refused.
        before = {e.match_id: self.states.get(e.match_id) for e in events if e.status == "finished"}
        self.states.remember(events)
        await self._finish(raws, jobs, letters, "livescore", started, before)

    async def requests(self, raws: list[RawRecord]) -> None:
        started = time.perf_counter()
        jobs, letters = [], []
        for raw in raws:
            record = decode(raw, MatchRequest)
            if not isinstance(record, MatchRequest):
                letters.append(dead_letter(raw, record.type, record.message, self.metrics))
                continue
            jobs.append(Job(raw=raw, record=record, state=self.states.get(record.match_id)))
        await self._finish(raws, jobs, letters, "request", started, {})

    async def _finish(
        self,
        raws: list[RawRecord],
        jobs: list[Job],
        letters: list[DeadLetter],
        trigger: Trigger,
        started: float,
        finished_before: dict[str, Livescore | None],
    ) -> None:
        if raws:
            self.metrics.events_in.labels(topic=raws[0].topic).inc(len(raws))
            self.metrics.batch_size.observe(len(raws))
        read_at = dt.datetime.now(dt.UTC)
        published = await self._predict(jobs, letters, read_at) if jobs else []
        results = self._results(jobs, finished_before) if self.write_results else []
        await self.publisher.publish(published, letters, trigger, started, results)

    def _results(
        self, jobs: list[Job], finished_before: dict[str, Livescore | None]
    ) -> list[MatchResult]:
        """The final scores of this batch's finished matches, for the results topic."""
        results = []
        for job in jobs:
            event = job.record
            if not isinstance(event, Livescore) or event.status != "finished":
                continue
            reason = self._refusal(job, event, finished_before.get(event.match_id))
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

    async def _predict(
        self, jobs: list[Job], letters: list[DeadLetter], read_at: dt.datetime
    ) -> list[Published]:
        # Until a model and a snapshot exist the batch waits, unacknowledged: /ready says
        # why, and nothing is lost or dead-lettered for a start-up condition.
        await self.models.ready.wait()
        await self.features.ready.wait()
        serving, ratings = self.models.current, self.ratings
        assert serving is not None  # set before ready is

        resolved = []
        for job in jobs:
            if not resolve(ratings, job, read_at):
                message = (
                    f"match {job.record.match_id!r} is not in the feature tables "
                    f"({ratings.version}) and the event names no teams"
                )
                letters.append(dead_letter(job.raw, "unknown_match", message, self.metrics))
            else:
                resolved.append(job)
        if not resolved:
            return []
        # The frame and the version it names are taken together, before the next await
        # (results read meanwhile would change the ratings under the version).
        frame, unknown_teams = serving_frame(ratings, resolved)
        features_version = ratings.version
        if unknown_teams:
            self.metrics.unknown_teams.inc(unknown_teams)
        results = await infer(serving.predictor, frame, self.metrics)

        out = []
        for job, result in zip(resolved, results, strict=True):
            try:
                if isinstance(result, Exception):
                    raise result
                prediction = prediction_for(job, result, serving.ref, features_version, read_at)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                letters.append(dead_letter(job.raw, "model_error", reason, self.metrics))
            else:
                out.append(Published(job.raw, prediction))
        return out

"""One micro-batch through the champion's path: decode, state, enrich, predict, publish.

The agents hand each batch of raw records to :class:`BatchProcessor`. A handler returns
once the batch's outputs (predictions, dead letters, results) are handed to the producer
and its match states are written, so the next batch may start; it returns the batch's
*confirmation*, which completes when the broker has acknowledged every output (see
:mod:`streams.flow.publish`), Redis is written and the challengers' shadow predictions are
published. Only then may the batch's inputs be acknowledged.

Nothing people read is built here. The match timelines, the forecasts kept for scoring and
the scores are read models fed from the output topics (``streams.read_models``); the path
writes one small state per match per batch and nothing that grows with a match's history.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field

import structlog

from schemas import (
    DeadLetter,
    Livescore,
    MatchRequest,
    MatchResult,
    MatchState,
    MatchTeams,
    Prediction,
    Trigger,
)
from streams.flow.dead_letters import dead_letter
from streams.flow.decode import decode
from streams.flow.enrich import Job, known_date, resolve, serving_input
from streams.flow.match_state import MatchStates, newest_states, remember_state
from streams.flow.predict import infer, prediction_for
from streams.flow.publish import Published, Publisher, Sending
from streams.flow.records import RawRecord
from streams.flow.shadow import ShadowRun, ShadowRunner
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
    #: The batch's livescores (none for requests): the states to remember.
    events: list[Livescore] = field(default_factory=list)
    #: Each finished match's state before its final event (stored, or earlier in this
    #: batch): a final score below it is refused.
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
        states: MatchStates,
        models: ModelServer,
        features: FeatureStore,
        ratings: TeamRatings,
        publisher: Publisher,
        shadow: ShadowRunner,
        metrics: Metrics,
        results_read: asyncio.Event | None = None,
    ) -> None:
        """``results_read``: set once the results topic has been read to where it ended
        when the worker started (None: no stream updates to wait for)."""
        self.states = states
        self.models = models
        self.features = features
        self.ratings = ratings
        self.publisher = publisher
        self.shadow = shadow
        self.metrics = metrics
        self.results_read = results_read

    async def livescores(self, raws: list[RawRecord]) -> Confirmation:
        started = time.perf_counter()
        letters: list[DeadLetter] = []
        decoded: list[tuple[RawRecord, Livescore]] = []
        for raw in raws:
            record = decode(raw, Livescore)
            if not isinstance(record, Livescore):
                letters.append(dead_letter(raw, record.type, record.message, self.metrics))
                continue
            decoded.append((raw, record))
        now = dt.datetime.now(dt.UTC)
        held = self.states.load({e.match_id for _, e in decoded}, now)
        jobs = [
            Job(raw=raw, record=event, state=event, teams=held[event.match_id].teams)
            for raw, event in decoded
        ]
        events = [event for _, event in decoded]
        batch = Batch(raws, jobs, letters, "livescore", started, read_at=now, events=events)
        batch.finished_before = {
            e.match_id: state_before(e, held[e.match_id].state, events)
            for e in events
            if e.status == "finished"
        }
        return await self._finish(batch)

    async def requests(self, raws: list[RawRecord]) -> Confirmation:
        started = time.perf_counter()
        jobs: list[Job] = []
        letters: list[DeadLetter] = []
        requests: list[tuple[RawRecord, MatchRequest]] = []
        for raw in raws:
            record = decode(raw, MatchRequest)
            if not isinstance(record, MatchRequest):
                letters.append(dead_letter(raw, record.type, record.message, self.metrics))
                continue
            requests.append((raw, record))
        now = dt.datetime.now(dt.UTC)
        held = self.states.load({r.match_id for _, r in requests}, now)
        for raw, record in requests:
            stored = held[record.match_id]
            jobs.append(Job(raw=raw, record=record, state=stored.state, teams=stored.teams))
        return await self._finish(Batch(raws, jobs, letters, "request", started, read_at=now))

    async def _finish(self, batch: Batch) -> Confirmation:
        if batch.raws:
            self.metrics.events_in.labels(topic=batch.raws[0].topic).inc(len(batch.raws))
            self.metrics.batch_size.observe(len(batch.raws))
        if batch.jobs:
            await self._predict(batch)
        # Written whatever STREAM_FEATURE_UPDATES says: the read models score every
        # forecast from them; the setting only decides whether the features fold them.
        results = self._results(batch)
        # Before the next batch reads them: its requests are answered for these states.
        self._write_states(batch)
        sending = await self.publisher.send(
            batch.published,
            batch.letters,
            batch.trigger,
            batch.started,
            results,
            changelog=self.states.writer.take(),
        )
        return self._confirm(batch, sending)

    async def _confirm(self, batch: Batch, sending: Sending) -> None:
        await self.publisher.confirm(sending)
        # After the champion's outputs are acknowledged: its path never waits on these.
        shadow = await self._shadow_predictions(batch)
        if shadow:
            await self.publisher.publish_shadow(shadow)

    def _write_states(self, batch: Batch) -> None:
        """Each match's newest event and newly learnt teams, applied to its state as it is
        now (the other agent may have written it while this batch awaited): one write per
        changed match, whatever the number of its events in the batch."""
        newest = newest_states(batch.events)
        tabled = self.ratings.fixtures
        # A livescore's state is written anyway; a request writes only teams it names
        # itself (those of the feature tables are there to look up).
        teams = {
            job.record.match_id: teams_of(job)
            for job in batch.resolved
            if isinstance(job.record, Livescore) or job.record.match_id not in tabled
        }

        def change(match_id: str, state: MatchState) -> bool:
            event = newest.get(match_id)
            moved = event is not None and remember_state(state, event)
            learnt = teams.get(match_id)
            if learnt is not None and learnt != state.teams:
                state.teams = learnt
                return True
            return moved

        self.states.update({*newest, *teams}, change, batch.read_at)

    async def _predict(self, batch: Batch) -> None:
        # Until a model and a snapshot exist the batch waits, unacknowledged: /ready says
        # why, and nothing is lost or dead-lettered for a start-up condition.
        await self.models.ready.wait()
        await self.features.ready.wait()
        if self.results_read is not None:
            # A worker that starts (or takes partitions) answers with every result known
            # before it started, as the worker it replaces did: else the same match would
            # get other features after a restart than without one.
            await self.results_read.wait()
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
        # The input and the version it names are taken together, before the next await
        # (results read meanwhile would change the ratings under the version).
        inputs, unknown_teams = serving_input(ratings, batch.resolved)
        batch.features_version = ratings.version
        if unknown_teams:
            self.metrics.unknown_teams.inc(unknown_teams)
        batch.shadow_runs = self.shadow.begin(self.models.challengers, inputs)
        results = await infer(serving.predictor, inputs, self.metrics)

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

    def _results(self, batch: Batch) -> list[MatchResult]:
        """The final scores of this batch's finished matches, for the results topic."""
        results = []
        for job in batch.jobs:
            event = job.record
            if not isinstance(event, Livescore) or event.status != "finished":
                continue
            reason = refusal(job, event, batch.finished_before.get(event.match_id))
            if reason is not None:
                self.metrics.results_rejected.labels(reason=reason).inc()
                log.info("result_refused", match_id=event.match_id, seq=event.seq, reason=reason)
                continue
            assert job.fixture is not None and job.date is not None  # checked by refusal
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


def teams_of(job: Job) -> MatchTeams | None:
    """Who plays, as ``job`` was resolved (None before it is), with the date a source
    gave (not the "today" a request without one is predicted for)."""
    if job.fixture is None:
        return None
    return MatchTeams(
        home_team=job.fixture.home_team,
        away_team=job.fixture.away_team,
        neutral=job.fixture.neutral,
        tournament=job.fixture.tournament,
        date=known_date(job),
    )


def state_before(
    finished: Livescore, held: Livescore | None, events: Sequence[Livescore]
) -> Livescore | None:
    """The newest state of ``finished``'s match before it: the stored one, or an earlier
    event of the same batch."""
    earlier = [e for e in events if e.match_id == finished.match_id and e.seq < finished.seq]
    known = earlier + ([held] if held is not None else [])
    return max(known, key=lambda e: e.seq) if known else None


def refusal(job: Job, event: Livescore, before: Livescore | None) -> str | None:
    """Why a finished event cannot be a result, or None."""
    if job.fixture is None or job.date is None:
        return "no_teams"
    live_before = before is not None and before.status != "finished" and before.seq < event.seq
    if live_before and (
        event.home_goals < before.home_goals or event.away_goals < before.away_goals
    ):
        return "score_went_down"  # a feed glitch; a real correction is a later finished event
    return None

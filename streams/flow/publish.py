"""Every output of a batch, to the broker until acknowledged, then to Redis.

When :meth:`Publisher.confirm` returns, the broker has acknowledged every prediction and
dead letter of the batch, so acknowledging the inputs afterwards gives at-least-once
delivery. The retry policy is per record: a send the broker may accept later (it is down,
a leader moved, a timeout) is re-sent with backoff while the inputs stay unacknowledged;
a send it refused for good fails the publish with :class:`PublishError`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import structlog
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, NodeNotReadyError
from tenacity import RetryCallState

from schemas import DeadLetter, MatchResult, MatchScore, Prediction, Trigger
from streams.backoff import retrying
from streams.flow.records import RawRecord
from streams.flow.trace_context import Source, Span, TraceParent, Tracing
from streams.metrics import Metrics
from streams.newest import seq_rank
from streams.sinks.kafka_sender import Outgoing, Sender
from streams.sinks.redis_latest import LatestValue, RedisLatestSink

log = structlog.get_logger(__name__)
RETRY_INITIAL_SECONDS = 0.5
RETRY_MAXIMUM_SECONDS = 5.0


def is_retriable(error: BaseException) -> bool:
    """Broker unavailability is waited out; a record the broker refuses for good is not."""
    cause = error.__cause__ if error.__cause__ is not None else error
    if isinstance(cause, KafkaError):
        return bool(getattr(cause, "retriable", False)) or isinstance(
            cause, KafkaConnectionError | KafkaTimeoutError | NodeNotReadyError
        )
    return isinstance(cause, OSError | asyncio.TimeoutError)


class PublishError(RuntimeError):
    """The broker refused some outputs for good (not retriable); the batch cannot finish."""


class _RetriableFailures(Exception):
    """Some sends failed in a way worth retrying (internal to the retry loop)."""


@dataclass(frozen=True, slots=True)
class Published:
    """A prediction and the input it answers."""

    raw: RawRecord
    prediction: Prediction


@dataclass(slots=True)
class Sending:
    """A batch's outputs, handed to the producer and not yet confirmed."""

    records: list[Outgoing]
    #: Per record: the future the broker's ack resolves, or the error of the send itself.
    issued: list[object]
    published: list[Published]
    latest: list[LatestValue]
    trigger: Trigger
    sent_at: float
    #: The spans of the outputs (exported traces only), ended once they are acknowledged.
    spans: list[Span] = field(default_factory=list)


class Publisher:
    """Produces a batch's outputs and writes the latest predictions to Redis.

    In two steps, so the next batch can be computed while this one's acks are on their way:
    :meth:`send` hands every output to the producer (in order, before the next batch's), and
    :meth:`confirm` waits for the broker's acks, re-sends what failed and may succeed later,
    then writes Redis. Only after ``confirm`` may the batch's inputs be acknowledged.
    """

    def __init__(
        self,
        *,
        predictions: Sender,
        dead_letters: Sender,
        results: Sender,
        shadow: Sender,
        scores: Sender,
        latest: RedisLatestSink,
        redis_key: Callable[[str], str],
        metrics: Metrics,
        tracing: Tracing | None = None,
    ) -> None:
        self.predictions = predictions
        self.dead_letters = dead_letters
        self.results = results
        self.shadow = shadow
        self.scores = scores
        self.latest = latest
        self.redis_key = redis_key
        self.metrics = metrics
        self.tracing = tracing or Tracing()
        #: Called with each batch's predictions once the broker acknowledged them.
        self.on_published: list[Callable[[Sequence[Prediction]], None]] = []

    async def send(
        self,
        published: list[Published],
        letters: list[DeadLetter],
        trigger: Trigger,
        compute_started: float | None,
        results: Sequence[MatchResult] = (),
        changelog: Sequence[Outgoing] = (),
    ) -> Sending:
        """Hand every output of a batch to the producer: predictions, dead letters, the
        results of its finished matches, and the changelog records of the state it wrote.

        ``compute_started`` (``time.perf_counter()``) is when the batch's work began; None
        for a failed batch's dead letters, whose work is not a compute stage.
        """
        records: list[Outgoing] = []
        latest: list[LatestValue] = []
        spans: list[Span] = []
        # Trace headers only for inputs that carried a context, or for all when spans are
        # exported: without either, the hot path pays one test per output.
        exporting = self.tracing.exporting
        started_ns = _epoch_ns(compute_started) if exporting else None
        for item in published:
            prediction = item.prediction
            body = prediction.model_dump_json().encode()
            raw = item.raw
            headers = None
            if exporting or raw.trace is not None:
                source = Source(raw.topic, raw.partition, raw.offset)
                headers, span = self.tracing.child(raw.trace, source, "prediction", started_ns)
                if span is not None:
                    spans.append(span)
            records.append(Outgoing(self.predictions, prediction.match_id.encode(), body, headers))
            key = self.redis_key(prediction.match_id)
            latest.append(LatestValue(key, seq_rank(prediction.seq), body.decode()))
        for letter in letters:
            trace = letter._trace
            headers = None
            if exporting or trace is not None:
                assert trace is None or isinstance(trace, TraceParent)
                source = Source(letter.source_topic, letter.partition, letter.offset)
                headers, span = self.tracing.child(trace, source, letter.error.type, started_ns)
                if span is not None:
                    spans.append(span)
            body = letter.model_dump_json().encode()
            records.append(Outgoing(self.dead_letters, letter.key_bytes(), body, headers))
        records.extend(
            Outgoing(self.results, result.match_id.encode(), result.model_dump_json().encode())
            for result in results
        )
        records.extend(changelog)
        sent_at = time.perf_counter()
        if compute_started is not None:
            self.metrics.batch_stage.labels(stage="compute").observe(sent_at - compute_started)
        issued = await _issue(records)
        return Sending(records, issued, published, latest, trigger, sent_at, spans)

    async def confirm(self, sending: Sending) -> None:
        """Wait until the broker acknowledged every output (re-sending what may succeed
        later), then write the latest predictions to Redis."""
        stage = self.metrics.batch_stage
        try:
            await self.send_all(sending.records, sending.issued)
        except BaseException as exc:
            self.tracing.end(sending.spans, exc)
            raise
        self.tracing.end(sending.spans)
        acknowledged = time.perf_counter()
        stage.labels(stage="produce").observe(acknowledged - sending.sent_at)
        if sending.published:
            now = time.time()
            self.metrics.predictions_out.labels(trigger=sending.trigger).inc(len(sending.published))
            histogram = self.metrics.latency.labels(trigger=sending.trigger)
            for item in sending.published:
                histogram.observe(max(0.0, now - item.raw.timestamp))
            predictions = [item.prediction for item in sending.published]
            for listener in self.on_published:
                listener(predictions)
        await self.latest.write(sending.latest)
        stage.labels(stage="redis").observe(time.perf_counter() - acknowledged)

    async def publish(
        self,
        published: list[Published],
        letters: list[DeadLetter],
        trigger: Trigger,
        compute_started: float | None,
        results: Sequence[MatchResult] = (),
    ) -> None:
        """:meth:`send` and :meth:`confirm` in one."""
        await self.confirm(await self.send(published, letters, trigger, compute_started, results))

    async def publish_shadow(self, shadow: Sequence[Prediction]) -> None:
        """The challengers' predictions, to their own topic only (never Redis)."""
        await self._after_the_champion(
            [
                Outgoing(self.shadow, p.match_id.encode(), p.model_dump_json().encode())
                for p in shadow
            ],
            "shadow predictions",
        )

    async def hand_over_read_models(
        self, changelog: Sequence[Outgoing], scores: Sequence[MatchScore]
    ) -> Awaitable[None]:
        """Hand the read models' changelog records and the scores they made to the
        producer; the returned awaitable completes once they are acknowledged (the broker
        down is waited out; a refusal for good is logged and counted, not raised).

        The scores are acknowledged before the changelog records are sent. A worker killed
        in between leaves the table's changelog without the change, so the worker that
        takes the partition over reads those outputs again and scores them again (a score
        sent twice counts once: the topic is compacted by match, version and phase). Sent
        together, the changelog could keep the change and the scores be lost for good:
        the outputs read again would then change nothing and score nothing."""
        scored = [
            Outgoing(self.scores, score.key.encode(), score.model_dump_json().encode())
            for score in scores
        ]
        if scored:
            await (await self._hand_over(scored, "scores"))
        return await self._hand_over(list(changelog), "read models")

    async def _after_the_champion(self, records: list[Outgoing], what: str) -> None:
        """Outputs sent after the champion's are acknowledged, until acknowledged."""
        await (await self._hand_over(records, what))

    async def _hand_over(self, records: list[Outgoing], what: str) -> Awaitable[None]:
        """Send ``records`` now; the awaitable waits for their acks.

        A refusal here must not fail the batch (its inputs would become dead letters though
        they were answered): it is logged and counted. The broker being down is waited out
        as for any output.
        """
        issued = await _issue(records) if records else []
        return self._settle(records, issued, what)

    async def _settle(self, records: list[Outgoing], issued: list[object], what: str) -> None:
        if not records:
            return
        try:
            await self.send_all(records, issued)
        except PublishError as exc:
            self.metrics.evaluation_publish_errors.inc()
            log.error(
                "evaluation_publish_failed", what=what, records=len(records), error=str(exc)[:300]
            )

    async def publish_dead_letters(self, letters: list[DeadLetter]) -> None:
        """Produce dead letters only (the agents' last resort for a failed batch)."""
        await self.publish([], letters, "livescore", None)

    async def send_all(self, records: list[Outgoing], issued: list[object] | None = None) -> None:
        """Wait for the broker's acks of ``records`` (sending them first unless ``issued``
        holds their sends); re-send what failed and may succeed later.

        The inputs stay unacknowledged meanwhile, so a broker outage stalls the agent
        instead of losing outputs; a re-send may duplicate a record (at least once).
        """
        if issued is None:
            issued = await _issue(records)
        failed = await _collect(records, issued)
        if not failed:
            return  # the usual case, without building the retry machinery
        async for attempt in retrying(
            retry_on=lambda error: isinstance(error, _RetriableFailures),
            initial=RETRY_INITIAL_SECONDS,
            maximum=RETRY_MAXIMUM_SECONDS,
            on_retry=_log_retry,
        ):
            with attempt:
                if attempt.retry_state.attempt_number > 1:  # the first round was sent above
                    pending = [record for record, _ in failed]
                    failed = await _collect(pending, await _issue(pending))
                _raise_if_permanent(failed, len(records))
                if failed:
                    raise _RetriableFailures(f"{len(failed)} sends failed: {failed[0][1]!r}")


def _raise_if_permanent(failed: list[tuple[Outgoing, BaseException]], total: int) -> None:
    """PublishError when any of ``failed`` was refused for good."""
    permanent = [(r, e) for r, e in failed if not is_retriable(e)]
    if permanent:
        raise PublishError(
            f"the broker refused {len(permanent)} of {total} outputs: {permanent[0][1]!r}"
        ) from permanent[0][1]


async def _issue(records: list[Outgoing]) -> list[object]:
    """Hand each record to the producer, in order; its ack future, or the send's error."""
    issued: list[object] = []
    for record in records:
        try:
            issued.append(
                await record.send(record.key, record.value, record.headers, record.partition)
            )
        except Exception as exc:  # faust wraps broker errors in its own type
            issued.append(exc)
    return issued


async def _collect(
    records: list[Outgoing], issued: list[object]
) -> list[tuple[Outgoing, BaseException]]:
    """Wait for every ack; the records that failed, with their error."""
    waiting = [r for r in issued if not isinstance(r, BaseException)]
    acked = iter(await asyncio.gather(*waiting, return_exceptions=True))  # type: ignore[arg-type]  # futures
    outcomes = [r if isinstance(r, BaseException) else next(acked) for r in issued]
    return [
        (record, outcome)
        for record, outcome in zip(records, outcomes, strict=True)
        if isinstance(outcome, BaseException)
    ]


def _epoch_ns(perf_started: float | None) -> int | None:
    """A ``time.perf_counter()`` instant as nanoseconds since the epoch (None: now)."""
    if perf_started is None:
        return None
    return time.time_ns() - int((time.perf_counter() - perf_started) * 1e9)


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    retry_in = state.next_action.sleep if state.next_action else None
    log.warning("produce_failed", error=str(error)[:300], retry_in=retry_in)

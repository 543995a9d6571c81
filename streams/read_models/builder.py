"""One batch of the output topics into the read models: decode, then each takes its part.

The champion's ``predictions`` and the challengers' ``predictions-shadow`` go to the
outputs (``streams.read_models.outputs``: the timelines and the forecasts); the results
topic goes to the held results (``streams.read_models.results``); and a match whose result
or forecasts changed is scored (``streams.read_models.scoring``). Pure apart from the table
writes: the agent around it (``streams.read_models.agent``) produces their changelog
records and the scores, and acknowledges the batch once they are acknowledged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import structlog
from pydantic import ValidationError

from schemas import MatchResult, MatchScore, Prediction
from streams.flow.records import RawRecord
from streams.metrics import Metrics
from streams.read_models.outputs import MatchOutputs, Slot
from streams.read_models.results import MatchResults
from streams.read_models.scoring import score_slots
from streams.sinks.kafka_sender import Outgoing
from streams.table_names import OUTPUTS_TABLE

log = structlog.get_logger(__name__)


class ReadModels:
    """The read models a worker keeps, and how a batch of outputs reaches them."""

    def __init__(
        self,
        *,
        outputs: MatchOutputs,
        results: MatchResults,
        metrics: Metrics,
        predictions_topic: str,
        shadow_topic: str,
        results_topic: str,
    ) -> None:
        self.outputs = outputs
        self.results = results
        self.metrics = metrics
        self.predictions_topic = predictions_topic
        self.shadow_topic = shadow_topic
        self.results_topic = results_topic

    @property
    def topics(self) -> tuple[str, str, str]:
        """What the read models are fed from."""
        return (self.predictions_topic, self.shadow_topic, self.results_topic)

    def apply(self, raws: Sequence[RawRecord], now: dt.datetime) -> list[MatchScore]:
        """Take ``raws`` into the read models; the scores this made."""
        champion: list[Prediction] = []
        challengers: list[Prediction] = []
        results: list[MatchResult] = []
        for raw in raws:
            try:
                if raw.topic == self.results_topic:
                    results.append(MatchResult.model_validate_json(raw.value or b""))
                elif raw.topic == self.shadow_topic:
                    challengers.append(Prediction.model_validate_json(raw.value or b""))
                else:
                    champion.append(Prediction.model_validate_json(raw.value or b""))
            except ValidationError as exc:
                # Our own outputs: unreadable means another version or a bug, never input.
                self.metrics.read_model_rejected.labels(topic=raw.topic).inc()
                log.warning("read_model_unreadable", at=raw.location, error=str(exc)[:200])
        touched = self.outputs.add(champion, "champion") | self.outputs.add(
            challengers, "challenger"
        )
        resulted = {r.match_id for r in results if self.results.hold(r, now)}
        self.metrics.read_model_records.labels(read_model="outputs").inc(
            len(champion) + len(challengers)
        )
        self.metrics.read_model_records.labels(read_model="results").inc(len(results))
        return self._scores(touched, resulted, now)

    def _scores(
        self, touched: set[tuple[str, Slot]], resulted: set[str], now: dt.datetime
    ) -> list[MatchScore]:
        """A match with a new result scores every forecast; one with a result and new
        forecasts scores those."""
        slots: dict[str, set[Slot]] = {}
        for match_id, slot in touched:
            slots.setdefault(match_id, set()).add(slot)
        scores: list[MatchScore] = []
        for match_id in resulted | set(slots):
            held = self.results.get(match_id)
            if held is None:
                continue
            forecasts = self.outputs.forecasts(match_id)
            chosen: Iterable[Slot] = forecasts if match_id in resulted else slots[match_id]
            scores += score_slots(held.result, forecasts, chosen, now)
        return scores

    def changelog(self) -> list[Outgoing]:
        """The changelog records of what the read models wrote since the last call."""
        return [*self.outputs.writer.take(), *self.results.writer.take()]


class ReadModelStore:
    """The read models as the memory janitor sweeps them: a match's outputs and result are
    forgotten together, ``FINISHED_MATCH_MINUTES`` after its result (or its last output)
    once finished, else ``MATCH_MEMORY_HOURS`` after its last output."""

    name = OUTPUTS_TABLE

    def __init__(self, models: ReadModels) -> None:
        self.models = models

    def match_ids(self) -> list[str]:
        """The matches with a result and no outputs (they score nothing), then those with
        outputs least recently written first."""
        return [*self._results_only(), *self.models.outputs.match_ids()]

    def _results_only(self) -> list[str]:
        outputs = self.models.outputs
        return [m for m in self.models.results.match_ids() if not outputs.count(m)]

    def count(self) -> int:
        return self.models.outputs.match_count() + len(self._results_only())

    def followed(self, match_id: str) -> bool:
        """A match with a result, or an output of a livescore state, was followed live."""
        return self.models.results.get(match_id) is not None or self.models.outputs.followed(
            match_id
        )

    def is_expired(
        self, match_id: str, now: dt.datetime, ttl: dt.timedelta, finished_ttl: dt.timedelta
    ) -> bool:
        held = self.models.results.get(match_id)
        last = [at for at in (self.models.outputs.newest_at(match_id),) if at is not None]
        if held is not None:
            return now - max([held.read_at, *last]) > finished_ttl
        return bool(last) and now - last[0] > ttl

    def forget(self, match_id: str) -> None:
        self.models.outputs.forget(match_id)
        self.models.results.forget(match_id)

    def prune(self) -> None:
        self.models.outputs.prune()
        self.models.results.prune()

    def changelog(self) -> list[Outgoing]:
        return self.models.changelog()

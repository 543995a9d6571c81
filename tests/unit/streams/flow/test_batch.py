"""The champion's path end to end without a broker (as FastStream's ``TestKafkaBroker``): a
real BatchProcessor over an in-memory table, a real Publisher whose senders are in memory,
a fake Redis sink, and a tiny deterministic model."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from schemas import DeadLetter, MatchResult, MatchState, MatchTeams, Prediction
from streams.faust_glue.table_writer import TableWriter
from streams.flow.batch import BatchProcessor, teams_of
from streams.flow.enrich import Job
from streams.flow.match_state import MatchStates
from streams.flow.publish import Publisher
from streams.flow.records import RawRecord
from streams.flow.shadow import ShadowRunner
from streams.live.feature_snapshot import Fixture
from streams.live.model_server import ServingModel
from streams.metrics import Metrics
from streams.sinks.kafka_sender import Headers
from streams.sinks.memory import InMemorySender
from streams.sinks.redis_latest import LatestValue
from tests.factories import livescore, model_ref, ratings_of, request, result

CHAMPION = model_ref("3", "champion")
CHALLENGER = model_ref("4", "challenger")


class Sent(InMemorySender):
    """An in-memory sender that also notes its name in a log all senders share (the order
    in which outputs were handed to the producer)."""

    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__()
        self.name = name
        self.log = log

    async def __call__(
        self,
        key: bytes | None,
        value: bytes | None,
        headers: Headers | None = None,
        partition: int | None = None,
    ) -> asyncio.Future[None]:
        self.log.append(self.name)
        return await super().__call__(key, value, headers, partition)


class LatestStub:
    """Stands in for the Redis sink: records what it was asked to write."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.writes: list[list[LatestValue]] = []

    async def write(self, values: Iterable[LatestValue]) -> int:
        self.log.append("redis")
        self.writes.append(list(values))
        return 0


class ByMinute:
    """A deterministic model: P(home) = 0.2 + minute / 1000, P(draw) = 0.3, the rest away."""

    def __init__(self) -> None:
        self.calls = 0

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls += 1
        minute = frame["minute"].to_numpy(dtype="float64")
        return np.column_stack([0.2 + minute / 1000, np.full(len(frame), 0.3), 0.5 - minute / 1000])


class Fixed:
    """A challenger that says the same for every row."""

    def __init__(self, row: tuple[float, float, float]) -> None:
        self.row = row

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.tile(self.row, (len(frame), 1))


def serving(ref: Any, predictor: Any) -> ServingModel:
    return ServingModel(ref=ref, predictor=predictor, loaded_at=dt.datetime.now(dt.UTC))


@dataclass
class Path:
    """One champion's path and everything it wrote."""

    processor: BatchProcessor
    metrics: Metrics
    sent: dict[str, Sent]
    latest: LatestStub
    store: dict[str, bytes]
    model: ByMinute
    log: list[str] = field(default_factory=list)

    async def livescores(self, *raws: RawRecord) -> None:
        await (await self.processor.livescores(list(raws)))

    async def requests(self, *raws: RawRecord) -> None:
        await (await self.processor.requests(list(raws)))

    def values(self, topic: str) -> list[bytes]:
        return [value or b"" for _, value in self.sent[topic].records]

    def predictions(self, topic: str = "predictions") -> list[Prediction]:
        return [Prediction.model_validate_json(v) for v in self.values(topic)]

    def letters(self) -> list[DeadLetter]:
        return [DeadLetter.model_validate_json(v) for v in self.values("dlq")]

    def state_records(self) -> list[tuple[bytes | None, MatchState]]:
        records = self.sent["state"].records
        now = dt.datetime.now(dt.UTC)
        return [(key, MatchState.decode(value or b"", now)) for key, value in records]

    def counted(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


@asynccontextmanager
async def champion_path(
    challenger: Any = None, results_read: asyncio.Event | None = None
) -> AsyncIterator[Path]:
    log: list[str] = []
    sent = {name: Sent(name, log) for name in ("predictions", "dlq", "results", "shadow", "state")}
    metrics, latest, model, store = Metrics(), LatestStub(log), ByMinute(), {}
    models = SimpleNamespace(
        ready=asyncio.Event(),
        current=serving(CHAMPION, model),
        challengers={} if challenger is None else {"challenger": serving(CHALLENGER, challenger)},
    )
    models.ready.set()
    features = SimpleNamespace(ready=asyncio.Event())
    features.ready.set()
    publisher = Publisher(
        predictions=sent["predictions"],
        dead_letters=sent["dlq"],
        results=sent["results"],
        shadow=sent["shadow"],
        scores=InMemorySender(),
        latest=latest,  # type: ignore[arg-type]  # the sink's one method the publisher uses
        redis_key=lambda match_id: f"prediction:{match_id}",
        metrics=metrics,
    )
    # A budget no challenger here comes near: it answers as soon as it is done.
    shadow = ShadowRunner(metrics, wait_seconds=60.0)
    processor = BatchProcessor(
        states=MatchStates(TableWriter(store, sent["state"], str.encode, lambda _: None)),
        models=models,  # type: ignore[arg-type]  # ready, current and challengers
        features=features,  # type: ignore[arg-type]  # ready
        ratings=ratings_of(),
        publisher=publisher,
        shadow=shadow,
        metrics=metrics,
        results_read=results_read,
    )
    try:
        yield Path(processor, metrics, sent, latest, store, model, log)
    finally:
        await shadow.on_stop()


def event(offset: int = 0, key: bytes | None = None, **fields: Any) -> RawRecord:
    record = livescore(**fields)
    value = record.model_dump_json().encode()
    return RawRecord(
        "livescores", 0, offset, record.match_id.encode() if key is None else key, value, 0.0
    )


def asked(offset: int = 0, **fields: Any) -> RawRecord:
    record = request(**fields)
    return RawRecord(
        "match-requests",
        0,
        offset,
        record.match_id.encode(),
        record.model_dump_json().encode(),
        0.0,
    )


# --- livescores --------------------------------------------------------------------------


async def test_a_batch_publishes_one_prediction_per_event_and_writes_each_match_once() -> None:
    async with champion_path() as path:
        await path.livescores(
            event(0, seq=1, minute=10),
            event(1, seq=2, minute=20),
            event(2, match_id="m2", seq=1, home_team="Spain", away_team="Brazil"),
            event(3, seq=3, minute=30),
            event(4, match_id="m2", seq=2, minute=12, home_team="Spain", away_team="Brazil"),
        )
        predictions = path.predictions()
        assert [(p.match_id, p.seq) for p in predictions] == [
            ("m1", 1),
            ("m1", 2),
            ("m2", 1),
            ("m1", 3),
            ("m2", 2),
        ]
        assert [k for k, _ in path.sent["predictions"].records] == [
            b"m1",
            b"m1",
            b"m2",
            b"m1",
            b"m2",
        ]
        # The model by hand: minute 20 gives (0.2 + 0.02, 0.3, 0.5 - 0.02).
        second = predictions[1].probabilities
        assert (second.home, second.draw, second.away) == pytest.approx((0.22, 0.3, 0.48))
        assert path.model.calls == 1, "one predict call for the whole batch"
        assert {p.model.version for p in predictions} == {"3"}

        # One changelog record per match, the newest state in it, however many events.
        states = dict(path.state_records())
        assert len(path.sent["state"].records) == 2
        assert states[b"m1"].state is not None and states[b"m1"].state.seq == 3
        assert states[b"m2"].state is not None and states[b"m2"].state.seq == 2
        assert states[b"m2"].teams == MatchTeams(
            home_team="Spain", away_team="Brazil", tournament="Friendly", date=None
        )
        (written,) = path.latest.writes
        assert [v.key for v in written] == ["prediction:m1"] * 2 + [
            "prediction:m2",
            "prediction:m1",
            "prediction:m2",
        ]
        assert path.log.index("redis") > max(i for i, n in enumerate(path.log) if n != "redis")


async def test_the_state_write_does_not_grow_with_the_matchs_history() -> None:
    async with champion_path() as path:
        for first in range(1, 301, 10):  # 300 events of one match, 30 batches of 10
            await path.livescores(
                *(event(seq, seq=seq, minute=seq * 90 // 300) for seq in range(first, first + 10))
            )
        sizes = [len(value or b"") for _, value in path.sent["state"].records]
        assert len(sizes) == 30, "one state record per batch"
        # The state is the newest event and the teams: only the digits of seq and minute
        # (and a timestamp's fraction) change. One more event held would add ~200 bytes.
        assert abs(sizes[-1] - sizes[0]) <= 16, sizes
        assert len(path.store["m1"]) == sizes[-1]


async def test_no_batch_is_predicted_before_the_results_known_at_start_are_read() -> None:
    results_read = asyncio.Event()
    async with champion_path(results_read=results_read) as path:
        batch = asyncio.ensure_future(path.livescores(event(0, seq=1, minute=10)))
        for _ in range(100):  # far more turns than an in-memory batch takes
            await asyncio.sleep(0)
        assert not batch.done() and path.predictions() == []
        results_read.set()
        await asyncio.wait_for(batch, 5)
        assert [(p.match_id, p.seq) for p in path.predictions()] == [("m1", 1)]


# --- requests ----------------------------------------------------------------------------


async def test_a_request_is_answered_for_the_stored_state() -> None:
    async with champion_path() as path:
        await path.livescores(
            event(seq=7, minute=55, home_goals=1, away_goals=1, home_red_cards=1),
            event(seq=6, minute=50),  # late and older: the state stays at seq 7
        )
        await path.requests(asked(request_id="r1"))
        answer = path.predictions()[-1]
        assert (answer.trigger, answer.request_id, answer.seq) == ("request", "r1", 7)
        assert (answer.status, answer.minute, answer.home_goals, answer.away_goals) == (
            "live",
            55,
            1,
            1,
        )
        assert (answer.home_red_cards, answer.away_red_cards) == (1, 0)
        # Predicted for minute 55: (0.2 + 0.055, 0.3, 0.5 - 0.055).
        p = answer.probabilities
        assert (p.home, p.draw, p.away) == pytest.approx((0.255, 0.3, 0.445))
        assert len(path.sent["state"].records) == 1, "a request for a tabled match writes nothing"


async def test_a_request_before_kick_off_is_a_pre_match_prediction() -> None:
    async with champion_path() as path:
        await path.requests(asked(request_id="early"))
        (answer,) = path.predictions()
        assert (answer.seq, answer.status, answer.minute) == (None, "scheduled", 0)
        assert path.sent["state"].records == []


async def test_teams_named_by_a_request_are_stored_and_serve_a_later_livescore() -> None:
    async with champion_path() as path:
        await path.livescores(event(0, match_id="m9", seq=1))
        (letter,) = path.letters()
        assert letter.error.type == "unknown_match", "no teams anywhere yet"

        await path.requests(
            asked(
                match_id="m9",
                home_team="Spain",
                away_team="Brazil",
                tournament="Cup",
                date="2026-06-14",
            )
        )
        key, stored = path.state_records()[-1]
        assert key == b"m9" and stored.teams == MatchTeams(
            home_team="Spain",
            away_team="Brazil",
            neutral=False,
            tournament="Cup",
            date=dt.date(2026, 6, 14),
        )
        await path.livescores(event(1, match_id="m9", seq=2, minute=5))
        assert [(p.match_id, p.trigger, p.seq) for p in path.predictions()] == [
            ("m9", "request", 1),  # the request is answered for the state seen before
            ("m9", "livescore", 2),
        ]
        assert len(path.letters()) == 1, "the later livescore is predicted, no dead letter"
        _, after = path.state_records()[-1]
        assert after.teams is not None and after.teams.home_team == "Spain"
        assert after.state is not None and after.state.seq == 2


# --- dead letters ------------------------------------------------------------------------


async def test_bad_records_become_dead_letters_with_their_reason() -> None:
    async with champion_path() as path:
        await path.livescores(
            RawRecord("livescores", 3, 1, b"m1", b"{nope", 0.0),
            event(2, seq=1),
            event(3, key=b"m2", seq=2),  # the key must be the match_id
        )
        letters = path.letters()
        assert [(lt.partition, lt.offset, lt.error.type) for lt in letters] == [
            (3, 1, "invalid_json"),
            (0, 3, "schema"),
        ]
        assert "key 'm2' is not the match_id 'm1'" in letters[1].error.message
        assert [k for k, _ in path.sent["dlq"].records] == [b"m1", b"m2"], "their own keys"
        assert [p.seq for p in path.predictions()] == [1], "the good one is predicted"
        assert path.counted("soccer_dead_letters_total", reason="invalid_json") == 1
        assert path.counted("soccer_dead_letters_total", reason="schema") == 1


async def test_an_unknown_match_without_teams_is_an_unknown_match_dead_letter() -> None:
    async with champion_path() as path:
        await path.livescores(event(5, match_id="m404", seq=3, status="finished", minute=90))
        (letter,) = path.letters()
        assert (letter.offset, letter.error.type) == (5, "unknown_match")
        assert "'m404' is not in the feature tables (v-test+0)" in letter.error.message
        assert path.predictions() == [] and path.sent["results"].records == []
        assert path.counted("soccer_results_rejected_total", reason="no_teams") == 1


# --- results -----------------------------------------------------------------------------


async def test_a_finished_event_writes_its_result() -> None:
    async with champion_path() as path:
        await path.livescores(event(seq=8, minute=88, home_goals=2, away_goals=1))
        await path.livescores(
            event(
                seq=9,
                status="finished",
                minute=90,
                home_goals=2,
                away_goals=1,
                ts="2024-06-14T20:50:00Z",
            )
        )
        ((key, value),) = path.sent["results"].records
        assert key == b"m1"
        # The fixture's teams (feature tables), the date of the event's ts.
        assert MatchResult.model_validate_json(value or b"") == result(
            seq=9, home_goals=2, away_goals=1
        )
        assert path.predictions()[-1].status == "finished", "a finished event is predicted too"


async def test_a_final_score_below_the_live_state_before_it_is_refused() -> None:
    async with champion_path() as path:
        await path.livescores(event(seq=5, minute=80, home_goals=2, away_goals=1))
        await path.livescores(
            event(seq=6, status="finished", minute=90, home_goals=1, away_goals=1)
        )
        assert path.sent["results"].records == []
        assert path.counted("soccer_results_rejected_total", reason="score_went_down") == 1
        # A real correction is a later finished event: the state before it is finished.
        await path.livescores(
            event(seq=7, status="finished", minute=90, home_goals=2, away_goals=1)
        )
        ((_, value),) = path.sent["results"].records
        corrected = MatchResult.model_validate_json(value or b"")
        assert (corrected.seq, corrected.home_goals, corrected.away_goals) == (7, 2, 1)


async def test_a_final_score_below_a_live_state_of_the_same_batch_is_refused() -> None:
    async with champion_path() as path:
        # One batch: the live state before the finished event is not stored yet.
        await path.livescores(
            event(0, seq=5, minute=80, home_goals=0, away_goals=2),
            event(1, seq=6, status="finished", minute=90, home_goals=0, away_goals=1),
        )
        assert path.sent["results"].records == []
        assert path.counted("soccer_results_rejected_total", reason="score_went_down") == 1


# --- challengers in shadow ---------------------------------------------------------------


async def test_a_challenger_in_shadow_publishes_after_the_champion_and_changes_nothing() -> None:
    batch = [event(0, seq=1, minute=10), event(1, seq=2, minute=40)]
    async with champion_path() as alone:
        await alone.livescores(*batch)
    async with champion_path(challenger=Fixed((0.1, 0.2, 0.7))) as path:
        await path.livescores(*batch)
        shadow = path.predictions("shadow")
        assert [(p.seq, p.model.version, p.model.alias) for p in shadow] == [
            (1, "4", "challenger"),
            (2, "4", "challenger"),
        ]
        assert {(p.probabilities.home, p.probabilities.away) for p in shadow} == {(0.1, 0.7)}
        first_shadow = path.log.index("shadow")
        assert set(path.log[:first_shadow]) == {"predictions", "state", "redis"}
        assert set(path.log[first_shadow:]) == {"shadow"}, "after every champion output"
        in_redis = [Prediction.model_validate_json(v.json) for w in path.latest.writes for v in w]
        assert {p.model.alias for p in in_redis} == {"champion"}, "a challenger never in Redis"
        assert path.counted("soccer_shadow_predictions_total", version="4") == 2

        def champions(p: Path) -> list[dict[str, Any]]:
            return [
                json.loads(x.model_dump_json(exclude={"predicted_at"})) for x in p.predictions()
            ]

        assert champions(path) == champions(alone)


# --- teams ------------------------------------------------------------------------------


def test_teams_are_those_the_job_was_resolved_with_and_the_date_a_source_gave() -> None:
    raw = RawRecord("match-requests", 0, 0, b"m1", b"{}", 0.0)
    job = Job(raw=raw, record=request(), state=None)
    assert teams_of(job) is None, "not resolved: nothing known"
    job.fixture = Fixture("Spain", "Brazil", neutral=True, tournament="FIFA World Cup")
    job.date = dt.date(2026, 6, 14)  # "today", for a request that named no date
    assert teams_of(job) == MatchTeams(
        home_team="Spain", away_team="Brazil", neutral=True, tournament="FIFA World Cup", date=None
    )
    dated = Job(raw=raw, record=request(date="2026-06-15"), state=None, fixture=job.fixture)
    assert teams_of(dated) is not None and teams_of(dated).date == dt.date(2026, 6, 15)  # type: ignore[union-attr]

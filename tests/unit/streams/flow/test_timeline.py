"""The champion's predictions kept per match for the match pages: order, bound, cards."""

from __future__ import annotations

import datetime as dt

from schemas import Livescore, MatchMemory, ModelRef, Prediction
from streams.flow.enrich import Job
from streams.flow.records import RawRecord
from streams.flow.timeline import TIMELINE_POINTS, remember_point, remember_teams
from streams.live.feature_snapshot import Fixture
from tests.factories import livescore, request

NOW = dt.datetime(2024, 6, 14, 22, tzinfo=dt.UTC)
MODEL = ModelRef(name="soccer_clf", version="3", alias="champion", run_id=None)


def live(seq: int, minute: int = 10, **state: object) -> tuple[Prediction, Livescore]:
    event = livescore(seq=seq, minute=minute, **state)
    return Prediction.for_livescore(
        event, [0.5, 0.3, 0.2], model=MODEL, features_version="v"
    ), event


def answer(state: Livescore | None, request_id: str = "r") -> Prediction:
    return Prediction.for_request(
        request(request_id=request_id),
        [0.4, 0.35, 0.25],
        model=MODEL,
        features_version="v",
        received_at=NOW,
        state=state,
    )


def test_points_are_kept_in_seq_order_and_ties_go_after() -> None:
    memory = MatchMemory(touched_at=NOW)
    first, first_event = live(1)
    third, _ = live(3)
    late, _ = live(2)
    for prediction in (answer(None, "pre"), first, third, late):
        remember_point(memory, prediction, [])
    remember_point(memory, answer(first_event, "at-1"), [first_event])
    assert [(p.seq, p.trigger) for p in memory.timeline] == [
        (None, "request"),
        (1, "livescore"),
        (1, "request"),  # a request for the same state is the newer answer, as in Redis
        (2, "livescore"),
        (3, "livescore"),
    ]
    assert memory.pre_match == memory.timeline[0]
    assert memory.timeline[-1].version == "3"


def test_the_bound_drops_the_oldest_and_keeps_the_pre_match_prediction() -> None:
    memory = MatchMemory(touched_at=NOW)
    remember_point(memory, answer(None), [])
    for seq in range(TIMELINE_POINTS + 5):
        remember_point(memory, live(seq, minute=min(seq, 130))[0], [])
    assert len(memory.timeline) == TIMELINE_POINTS
    assert memory.timeline[0].seq == 5 and memory.timeline[-1].seq == TIMELINE_POINTS + 4
    assert memory.pre_match is not None and memory.pre_match.status == "scheduled"
    # The bound holds through the table's bytes: what a restart reads back.
    assert MatchMemory.decode(memory.model_dump_json().encode(), NOW) == memory


def test_red_cards_come_from_the_state_of_the_seq_else_the_point_before() -> None:
    memory = MatchMemory(touched_at=NOW)
    prediction, event = live(4, minute=30, home_red_cards=1)
    remember_point(memory, prediction, [event])
    stale = live(4, minute=30)[1]  # a state of the same seq would say 0; the event wins
    remember_point(memory, answer(event), [event, stale])
    later, _ = live(5, minute=40)
    remember_point(memory, later, [])  # not in this batch's states: carried on
    assert [p.home_red_cards for p in memory.timeline] == [1, 1, 1]
    assert memory.timeline[0].away_red_cards == 0


def test_teams_come_from_the_resolved_job() -> None:
    memory = MatchMemory(touched_at=NOW)
    raw = RawRecord(topic="t", partition=0, offset=0, key=b"m1", value=b"{}", timestamp=0.0)
    job = Job(raw=raw, record=request(), state=None)
    remember_teams(memory, job)  # not resolved: nothing known
    assert memory.teams is None
    job.fixture = Fixture("Spain", "Brazil", neutral=True, tournament="FIFA World Cup")
    job.date = dt.date(2026, 6, 14)
    remember_teams(memory, job)
    remember_teams(memory, None)  # a batch with no job for the match keeps what is known
    assert memory.teams is not None
    assert (memory.teams.home_team, memory.teams.away_team) == ("Spain", "Brazil")
    assert memory.teams.date == dt.date(2026, 6, 14)

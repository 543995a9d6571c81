"""The chaos ledger on hand-made runs: each check finds what it is for, and the last line
reads exactly as issue 25 wants it."""

from __future__ import annotations

import datetime as dt

from bench.chaos.ledger import ledger, point_of
from bench.chaos.observe import Observations, last_by_key
from bench.chaos.season_input import InputRecord, SeasonDay, SeasonInput
from schemas import DeadLetter, MatchScore, Prediction
from tests.factories import answer, livescore, prediction

AT = dt.datetime(2024, 6, 14, 19, 0, tzinfo=dt.UTC)


def season() -> SeasonInput:
    """One match: a request, then livescores seq 0 and 1."""
    records = [
        InputRecord(kind="request", identity="request:r", match_id="m1", key=b"m1", value=b"{}"),
        *(
            InputRecord(
                kind="livescore",
                identity=f"livescore:m1:{seq}",
                match_id="m1",
                key=b"m1",
                value=b"{}",
            )
            for seq in (0, 1)
        ),
    ]
    return SeasonInput(
        days=(SeasonDay(date=dt.date(2024, 6, 14), records=tuple(records), finished=("m1",)),)
    )


def outputs(version: str = "1", shift: int = 0) -> list[Prediction]:
    """One answer per input, ``shift`` seconds later than the reference run's."""
    at = AT + dt.timedelta(seconds=shift)
    return [
        answer(request_id="r", version=version, at=at),
        prediction(version=version, at=at + dt.timedelta(seconds=1), seq=0, minute=0),
        prediction(version=version, at=at + dt.timedelta(seconds=2), seq=1, minute=90),
    ]


def score(rps: float = 0.25) -> MatchScore:
    return MatchScore(
        match_id="m1",
        model_version="1",
        phase="pre",
        date=dt.date(2024, 6, 14),
        home=0.4,
        draw=0.35,
        away=0.25,
        outcome="home",
        log_loss=0.9,
        brier=0.5,
        rps=rps,
        goals_rps=None,
        scored_at=AT,
    )


def run(predictions: list[Prediction], **changes: object) -> Observations:
    fields: dict[str, object] = {
        "predictions": predictions,
        "dead_letters": [],
        "latest": {"m1": predictions[-1]},
        "ratings": {"w0": {"Spain": {"elo": 1800.0, "attack": 0.1}}},
        "scores": {"m1|1|pre": score()},
        "board": {"w0": {"1|pre": 1}},
        "timelines": {"m1": [point_of(p) for p in predictions]},
    }
    return Observations.model_validate(fields | changes)


def test_a_run_like_the_clean_one_passes_with_the_exact_last_line() -> None:
    result = ledger(season(), run(outputs()), run(outputs(shift=60)))
    assert result.ok
    assert result.summary().splitlines()[-1] == (
        "chaos: 3 inputs, 0 lost, 0 duplicates, ratings identical: yes, "
        "scores identical: yes, timelines exact: yes"
    )


def test_an_input_with_no_answer_is_lost_and_a_dead_letter_is_not() -> None:
    answered = outputs()[1:]  # the request went unanswered
    result = ledger(season(), run(outputs()), run(answered))
    assert result.lost == ["request:r"] and not result.ok
    letter = DeadLetter.from_raw(
        "match-requests", 0, 7, b"m1", b'{"request_id": "r", "match_id": "m1"}',
        "model_error", "the model failed", AT,
    )  # fmt: skip
    assert ledger(season(), run(outputs()), run(answered, dead_letters=[letter])).lost == []


def test_duplicates_are_counted_by_reason_and_shown_once_on_the_timeline() -> None:
    first = outputs()
    again = prediction(version="1", at=AT + dt.timedelta(seconds=30), seq=1, minute=90)
    other = prediction(version="2", at=AT + dt.timedelta(seconds=31), seq=1, minute=90)
    predictions = [*first, again, other]
    # The read model keys an output by input and version: the re-read seq 1 of version 1
    # is one point (the later), version 2's answer another.
    timeline = [point_of(p) for p in (first[0], first[1], again, other)]
    chaos = run(predictions, latest={"m1": other}, timelines={"m1": timeline})
    result = ledger(season(), run(first), chaos)
    assert result.duplicates == {
        "re-read after a fault (at-least-once): the same answer again": 1,
        "re-read across the alias move: answered by the other version": 1,
    }
    assert result.timelines_wrong == [] and result.ok


def test_a_timeline_point_shown_twice_missing_or_never_published_is_found() -> None:
    predictions = outputs()
    points = [point_of(p) for p in predictions]
    twice = run(predictions, timelines={"m1": [*points, points[0]]})
    assert any(
        "shown 2 times" in w for w in ledger(season(), run(outputs()), twice).timelines_wrong
    )
    missing = run(predictions, timelines={"m1": points[1:]})
    assert any(
        "shown 0 times" in w for w in ledger(season(), run(outputs()), missing).timelines_wrong
    )
    phantom = (*points[0][:3], "9", *points[0][4:])
    extra = run(predictions, timelines={"m1": [*points, phantom]})
    found = ledger(season(), run(outputs()), extra)
    assert any("never published" in w for w in found.timelines_wrong)
    assert found.summary().endswith("timelines exact: no")


def test_redis_must_hold_the_highest_seq() -> None:
    predictions = outputs()
    stale = run(predictions, latest={"m1": predictions[1]})  # seq 0, not 1
    assert ledger(season(), run(outputs()), stale).redis_wrong == ["m1: seq 0, highest 1"]
    empty = run(predictions, latest={"m1": None})
    assert ledger(season(), run(outputs()), empty).redis_wrong == ["m1: no value"]


def test_ratings_differ_past_one_billionth_on_any_worker() -> None:
    near = {"w0": {"Spain": {"elo": 1800.0 + 1e-10, "attack": 0.1}}}
    assert ledger(season(), run(outputs()), run(outputs(), ratings=near)).ratings_wrong == []
    far = {
        "w0": {"Spain": {"elo": 1800.0, "attack": 0.1}},
        "w1": {"Spain": {"elo": 1800.0 + 1e-6, "attack": 0.1}},
    }
    result = ledger(season(), run(outputs()), run(outputs(), ratings=far))
    assert len(result.ratings_wrong) == 1 and result.ratings_wrong[0].startswith("w1: Spain elo")
    assert "ratings identical: no" in result.summary()


def test_scores_must_match_and_the_board_count_each_match_once() -> None:
    other = run(outputs(), scores={"m1|1|pre": score(rps=0.26)})
    assert ledger(season(), run(outputs()), other).scores_wrong == [
        "m1|1|pre rps: 0.26, clean 0.25"
    ]
    missing = run(outputs(), scores={}, board={"w0": {}})
    assert ledger(season(), run(outputs()), missing).scores_wrong == ["m1|1|pre: missing"]
    counted_twice = run(outputs(), board={"w0": {"1|pre": 2}})
    assert ledger(season(), run(outputs()), counted_twice).scores_wrong == [
        "w0 board 1|pre: n=2, 1 matches scored"
    ]


def test_a_compacted_topic_ends_with_the_last_value_of_each_key() -> None:
    records = [(b"a", b"1"), (b"b", b"2"), (b"a", b"3"), (b"b", None), (None, b"x")]
    assert last_by_key(records) == {b"a": b"3"}


def test_the_livescore_factory_and_the_season_agree_on_identities() -> None:
    # The ledger's identities of a livescore answer and of its input are built alike.
    event = livescore(seq=1, minute=90)
    assert f"livescore:{event.match_id}:{event.seq}" == season().days[0].records[2].identity

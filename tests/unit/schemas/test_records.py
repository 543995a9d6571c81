"""Unit tests of the wire schemas: parsing from bytes, every constraint, dead letters."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from schemas import (
    DeadLetter,
    DeadLetterReason,
    Livescore,
    MatchRequest,
    ModelRef,
    Prediction,
    Probabilities,
    classify_validation_error,
)

UTC = dt.UTC
TS = dt.datetime(2024, 6, 1, 18, 30, tzinfo=UTC)
MODEL = ModelRef(name="soccer_clf", version="7", alias="champion", run_id="r1")


def livescore(**changes: Any) -> dict[str, Any]:
    record = {
        "match_id": "m-1",
        "seq": 4,
        "ts": "2024-06-01T20:30:00+02:00",
        "status": "live",
        "minute": 55,
        "home_goals": 1,
        "away_goals": 0,
    }
    return {**record, **changes}


def match_request(**changes: Any) -> dict[str, Any]:
    return {**{"request_id": "req-1", "match_id": "m-1"}, **changes}


def raw(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode()


def drop(record: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != field}


def schema_error(model: type[BaseModel], payload: bytes) -> DeadLetterReason:
    with pytest.raises(ValidationError) as info:
        model.model_validate_json(payload)
    return classify_validation_error(info.value)


# --- livescores ------------------------------------------------------------------------


def test_livescore_parses_from_bytes_with_defaults() -> None:
    event = Livescore.model_validate_json(raw(livescore()))
    assert event.match_id == "m-1"
    assert event.seq == 4
    assert event.ts == TS
    assert event.ts.utcoffset() == dt.timedelta(hours=2)
    assert (event.status, event.minute, event.home_goals, event.away_goals) == ("live", 55, 1, 0)
    assert (event.home_red_cards, event.away_red_cards) == (0, 0)
    assert event.home_team is None and event.neutral is None and event.date is None


def test_livescore_optional_fields_and_unknown_fields_ignored() -> None:
    event = Livescore.model_validate_json(
        raw(
            livescore(
                home_team=" England ",
                away_team="Scotland",
                date="2024-06-01",
                neutral=True,
                tournament="Friendly",
                home_red_cards=1,
                added_by_producer_v2={"anything": [1, 2]},
            )
        )
    )
    assert event.home_team == "England"  # stripped for the feature-table lookup
    assert event.date == dt.date(2024, 6, 1)
    assert event.neutral is True and event.home_red_cards == 1
    assert not hasattr(event, "added_by_producer_v2")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"match_id": ""}, "match_id"),
        ({"match_id": "x" * 129}, "match_id"),
        ({"match_id": 17}, "match_id"),
        ({"seq": -1}, "seq"),
        ({"seq": 2**63}, "seq"),
        ({"seq": "4"}, "seq"),
        ({"seq": 4.0}, "seq"),
        ({"ts": "2024-06-01T18:30:00"}, "ts"),  # naive
        ({"ts": "yesterday"}, "ts"),
        ({"ts": 1717266600}, "ts"),  # epoch seconds are not RFC 3339
        ({"status": "abandoned"}, "status"),
        ({"minute": -1}, "minute"),
        ({"minute": 131}, "minute"),
        ({"home_goals": -1}, "home_goals"),
        ({"away_goals": True}, "away_goals"),
        ({"home_red_cards": -1}, "home_red_cards"),
        ({"away_red_cards": -2}, "away_red_cards"),
        ({"neutral": 1}, "neutral"),
        ({"date": "2024-13-01"}, "date"),
        ({"date": "2024-06-01T00:00:00Z"}, "date"),
        ({"home_team": " ", "away_team": "B"}, "home_team"),
        ({"tournament": "t" * 129}, "tournament"),
    ],
)
def test_livescore_constraint_rejected(changes: dict[str, Any], field: str) -> None:
    error = schema_error(Livescore, raw(livescore(**changes)))
    assert error.type == "schema"
    assert error.message.startswith(f"{field}: "), error.message


@pytest.mark.parametrize(
    "field", ["match_id", "seq", "ts", "status", "minute", "home_goals", "away_goals"]
)
def test_livescore_required_field_missing(field: str) -> None:
    error = schema_error(Livescore, raw(drop(livescore(), field)))
    assert (error.type, error.message) == ("schema", f"{field}: Field required")


def test_livescore_minute_bounds_inclusive() -> None:
    assert Livescore.model_validate_json(raw(livescore(minute=0))).minute == 0
    assert Livescore.model_validate_json(raw(livescore(minute=130))).minute == 130


def test_livescore_match_id_length_bounds_inclusive() -> None:
    assert Livescore.model_validate_json(raw(livescore(match_id="x"))).match_id == "x"
    long_id = "x" * 128
    assert Livescore.model_validate_json(raw(livescore(match_id=long_id))).match_id == long_id


@pytest.mark.parametrize(
    ("teams", "reason"),
    [
        ({"home_team": "England"}, "home_team and away_team must be sent together"),
        ({"away_team": "England"}, "home_team and away_team must be sent together"),
        ({"home_team": "England", "away_team": "England"}, "home_team and away_team must differ"),
    ],
)
def test_teams_must_come_in_pairs(teams: dict[str, str], reason: str) -> None:
    for model, record in ((Livescore, livescore(**teams)), (MatchRequest, match_request(**teams))):
        error = schema_error(model, raw(record))
        assert (error.type, error.message) == ("schema", reason)


def test_livescore_is_immutable() -> None:
    event = Livescore.model_validate_json(raw(livescore()))
    with pytest.raises(ValidationError):
        event.minute = 90  # type: ignore[misc]  # the point: frozen models refuse this


# --- match-requests --------------------------------------------------------------------


def test_match_request_minimal_defaults() -> None:
    request = MatchRequest.model_validate_json(raw(match_request()))
    assert (request.request_id, request.match_id) == ("req-1", "m-1")
    assert request.date is None  # "today" is decided by the service, not the schema
    assert request.neutral is False
    assert request.home_team is None and request.tournament is None


def test_match_request_full() -> None:
    request = MatchRequest.model_validate_json(
        raw(
            match_request(
                home_team="Brazil",
                away_team="Chile",
                date="2026-06-20",
                neutral=True,
                tournament="FIFA World Cup",
                extra_field=1,
            )
        )
    )
    assert (request.home_team, request.away_team) == ("Brazil", "Chile")
    assert request.date == dt.date(2026, 6, 20)
    assert request.neutral is True and request.tournament == "FIFA World Cup"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"request_id": ""}, "request_id"),
        ({"request_id": "r" * 129}, "request_id"),
        ({"request_id": None}, "request_id"),
        ({"match_id": ""}, "match_id"),
        ({"date": "20/06/2026"}, "date"),
        ({"neutral": "false"}, "neutral"),
        ({"tournament": ""}, "tournament"),
    ],
)
def test_match_request_constraint_rejected(changes: dict[str, Any], field: str) -> None:
    error = schema_error(MatchRequest, raw(match_request(**changes)))
    assert error.type == "schema"
    assert error.message.startswith(f"{field}: "), error.message


@pytest.mark.parametrize("field", ["request_id", "match_id"])
def test_match_request_required_field_missing(field: str) -> None:
    error = schema_error(MatchRequest, raw(drop(match_request(), field)))
    assert (error.type, error.message) == ("schema", f"{field}: Field required")


# --- classifying bad input -------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"   ",
        b"{",
        b'{"match_id": "m-1",}',
        b"not json",
        b"\xff\xfe\x00garbage",
        b'{"match_id": "\xff"}',  # invalid UTF-8 inside a string
        b'{"match_id": "\xed\xa0\x80"}',  # an encoded surrogate is not UTF-8
        b'{"request_id": "r", "match_id": "m"} trailing',
        b"[" * 100_000 + b"]" * 100_000,  # nesting bomb
        b'{"match_id": "' + b"x" * 1_000_000,  # huge and unterminated
    ],
    ids=lambda p: repr(p[:24]),
)
def test_unparseable_bytes_are_invalid_json(payload: bytes) -> None:
    for model in (Livescore, MatchRequest):
        error = schema_error(model, payload)
        assert error.type == "invalid_json"
        assert error.message.startswith("Invalid JSON: ")
        assert len(error.message) < 200


@pytest.mark.parametrize("payload", [b"[]", b"null", b"42", b'"m-1"', b"true", b"[{}]"])
def test_json_that_is_not_an_object_is_invalid_json(payload: bytes) -> None:
    error = schema_error(Livescore, payload)
    assert (error.type, error.message) == ("invalid_json", "JSON value is not an object")


def test_huge_valid_json_is_a_schema_error_with_a_short_message() -> None:
    payload = raw(livescore(match_id="x" * 1_000_000))
    error = schema_error(Livescore, payload)
    assert error.type == "schema"
    assert error.message == "match_id: String should have at most 128 characters"


def test_schema_message_names_the_field_and_reason() -> None:
    error = schema_error(Livescore, raw(livescore(minute=131)))
    assert error.message == "minute: Input should be less than or equal to 130"


def test_schema_message_lists_at_most_three_problems() -> None:
    error = schema_error(Livescore, b"{}")
    assert error.type == "schema"
    assert error.message.count("Field required") == 3
    assert error.message.endswith("; and 4 more")


def test_empty_object_is_schema_not_invalid_json() -> None:
    assert schema_error(MatchRequest, b"{}").type == "schema"


# --- predictions -----------------------------------------------------------------------


def test_prediction_for_livescore_round_trips_through_json() -> None:
    event = Livescore.model_validate_json(raw(livescore()))
    prediction = Prediction.for_livescore(
        event, [0.2, 0.3, 0.5], model=MODEL, features_version="fv-1", predicted_at=TS
    )
    wire = json.loads(prediction.model_dump_json())
    assert wire == {
        "match_id": "m-1",
        "trigger": "livescore",
        "request_id": None,
        "seq": 4,
        "status": "live",
        "minute": 55,
        "home_goals": 1,
        "away_goals": 0,
        "home_red_cards": 0,
        "away_red_cards": 0,
        "probabilities": {"home": 0.2, "draw": 0.3, "away": 0.5},
        "predicted": "away",
        "model": {"name": "soccer_clf", "version": "7", "alias": "champion", "run_id": "r1"},
        "features_version": "fv-1",
        "event_ts": "2024-06-01T20:30:00+02:00",
        "predicted_at": "2024-06-01T18:30:00Z",
    }
    assert Prediction.model_validate_json(prediction.model_dump_json()) == prediction


def test_prediction_for_request_without_state_is_pre_match() -> None:
    request = MatchRequest.model_validate_json(raw(match_request()))
    prediction = Prediction.for_request(
        request, {"home": 0.5, "draw": 0.25, "away": 0.25}, model=MODEL,
        features_version="fv-1", received_at=TS,
    )  # fmt: skip
    assert (prediction.trigger, prediction.request_id, prediction.seq) == ("request", "req-1", None)
    assert (prediction.status, prediction.minute) == ("scheduled", 0)
    assert (prediction.home_goals, prediction.away_goals) == (0, 0)
    assert prediction.event_ts == TS and prediction.predicted == "home"
    assert prediction.predicted_at.tzinfo is not None


def test_prediction_for_request_with_live_state() -> None:
    request = MatchRequest.model_validate_json(raw(match_request()))
    state = Livescore.model_validate_json(raw(livescore(seq=9, minute=80, away_goals=2)))
    prediction = Prediction.for_request(
        request, [0.1, 0.2, 0.7], model=MODEL, features_version="fv", received_at=TS, state=state
    )
    assert (prediction.seq, prediction.minute, prediction.away_goals) == (9, 80, 2)
    other = Livescore.model_validate_json(raw(livescore(match_id="m-2")))
    with pytest.raises(ValueError, match="state is for 'm-2'"):
        Prediction.for_request(
            request, [0.1, 0.2, 0.7], model=MODEL, features_version="fv", received_at=TS,
            state=other,
        )  # fmt: skip


def test_a_prediction_carries_the_red_cards_of_its_state() -> None:
    event = Livescore.model_validate_json(raw(livescore(home_red_cards=1, away_red_cards=2)))
    live = Prediction.for_livescore(event, [0.2, 0.3, 0.5], model=MODEL, features_version="f")
    assert (live.home_red_cards, live.away_red_cards) == (1, 2)
    request = MatchRequest.model_validate_json(raw(match_request()))
    answer = Prediction.for_request(
        request, [0.2, 0.3, 0.5], model=MODEL, features_version="f", received_at=TS, state=event
    )
    assert (answer.home_red_cards, answer.away_red_cards) == (1, 2)
    before = Prediction.for_request(
        request, [0.2, 0.3, 0.5], model=MODEL, features_version="f", received_at=TS
    )
    assert (before.home_red_cards, before.away_red_cards) == (0, 0)


def test_a_prediction_written_before_the_red_card_fields_reads_as_no_cards() -> None:
    wire = json.loads(_valid_prediction().model_dump_json())
    del wire["home_red_cards"], wire["away_red_cards"]  # as a 1.0.0 worker wrote it
    old = Prediction.model_validate_json(json.dumps(wire))
    assert (old.home_red_cards, old.away_red_cards) == (0, 0)
    with pytest.raises(ValidationError, match="home_red_cards"):
        Prediction.model_validate_json(json.dumps({**wire, "home_red_cards": -1}))


def test_builder_normalises_float_drift_and_breaks_ties_in_order() -> None:
    probabilities = Probabilities.from_raw([0.4 + 3e-7, 0.4, 0.2 - 5e-8])
    total = probabilities.home + probabilities.draw + probabilities.away
    assert abs(total - 1.0) < 1e-12
    assert probabilities.argmax == "home"
    assert Probabilities.from_raw([0.4, 0.4, 0.2]).argmax == "home"
    assert Probabilities.from_raw([0.2, 0.4, 0.4]).argmax == "draw"
    assert Probabilities.from_raw([1.0 + 1e-9, -1e-9, 0.0]).home == 1.0


@pytest.mark.parametrize(
    "values",
    [
        [0.5, 0.5, 0.5],  # sums to 1.5: not drift
        [0.2, 0.2, 0.2],
        [0.5, 0.5],
        [0.25, 0.25, 0.25, 0.25],
        [float("nan"), 0.5, 0.5],
        [float("inf"), 0.0, 0.0],
        [1.1, -0.1, 0.0],
        {"home": 0.5, "draw": 0.5},
    ],
)
def test_builder_rejects_output_that_is_not_a_probability_vector(values: Any) -> None:
    with pytest.raises(ValueError):
        Probabilities.from_raw(values)


@pytest.mark.parametrize(
    "probabilities",
    [
        {"home": 0.5, "draw": 0.3, "away": 0.3},  # sum 1.1
        {"home": 0.5, "draw": 0.3, "away": 0.19999},  # sum off by 1e-5
        {"home": 1.2, "draw": -0.1, "away": -0.1},
        {"home": 0.5, "draw": 0.5},
    ],
)
def test_prediction_probabilities_must_sum_to_one(probabilities: dict[str, float]) -> None:
    wire = json.loads(_valid_prediction().model_dump_json())
    wire["probabilities"] = probabilities
    with pytest.raises(ValidationError, match="probabilities"):
        Prediction.model_validate_json(json.dumps(wire))


def test_probability_sum_within_contract_tolerance_accepted() -> None:
    probabilities = Probabilities(home=0.5, draw=0.3, away=0.2000005)
    assert probabilities.away == 0.2000005


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"predicted": "draw"}, "is not the argmax"),
        ({"request_id": "r-1"}, "request_id must be set exactly when trigger is 'request'"),
        ({"trigger": "request"}, "request_id must be set exactly when trigger is 'request'"),
        ({"seq": None}, "must carry the event's seq"),
        ({"event_ts": "2024-06-01T18:30:00"}, "timezone"),
        ({"trigger": "webhook"}, "trigger"),
        ({"unexpected": 1}, "Extra inputs are not permitted"),
    ],
)
def test_inconsistent_prediction_rejected(changes: dict[str, Any], reason: str) -> None:
    wire = {**json.loads(_valid_prediction().model_dump_json()), **changes}
    with pytest.raises(ValidationError, match=reason):
        Prediction.model_validate_json(json.dumps(wire))


def test_request_prediction_may_omit_seq() -> None:
    wire = json.loads(_valid_prediction().model_dump_json())
    wire.update(trigger="request", request_id="r-1", seq=None)
    assert Prediction.model_validate_json(json.dumps(wire)).seq is None


def _valid_prediction() -> Prediction:
    event = Livescore.model_validate_json(raw(livescore()))
    return Prediction.for_livescore(event, [0.6, 0.3, 0.1], model=MODEL, features_version="fv")


# --- dead letters ----------------------------------------------------------------------


def test_dead_letter_keeps_utf8_as_text() -> None:
    letter = DeadLetter.from_raw(
        "livescores", 2, 41, b"m-1", b'{"minute": 131}', "schema", "minute: too big",
        received_at=TS,
    )  # fmt: skip
    wire = json.loads(letter.model_dump_json())
    assert wire == {
        "source_topic": "livescores",
        "partition": 2,
        "offset": 41,
        "key": "m-1",
        "key_encoding": "utf-8",
        "payload": '{"minute": 131}',
        "payload_encoding": "utf-8",
        "error": {"type": "schema", "message": "minute: too big"},
        "received_at": "2024-06-01T18:30:00Z",
    }
    assert letter.location == "livescores[2]@41"
    assert DeadLetter.model_validate_json(letter.model_dump_json()) == letter


def test_dead_letter_base64_for_bytes_that_are_not_utf8() -> None:
    payload = b"\xff\xfe{not utf-8"
    letter = DeadLetter.from_raw(
        "match-requests", 0, 7, "clé".encode("latin-1"), payload, "invalid_json", "bad"
    )
    assert letter.payload_encoding == "base64"
    assert letter.payload == base64.b64encode(payload).decode()
    assert letter.key_encoding == "base64"
    assert letter.payload_bytes() == payload
    assert letter.key_bytes() == "clé".encode("latin-1")
    assert letter.received_at.tzinfo is not None


def test_dead_letter_null_key_and_tombstone() -> None:
    letter = DeadLetter.from_raw("livescores", 0, 0, None, None, "invalid_json", "tombstone")
    assert (letter.key, letter.key_encoding, letter.payload, letter.payload_encoding) == (
        None, None, None, None,
    )  # fmt: skip
    assert letter.payload_bytes() is None


def test_dead_letter_empty_bytes_are_text_not_null() -> None:
    letter = DeadLetter.from_raw("livescores", 0, 0, b"", b"", "invalid_json", "empty")
    assert (letter.key, letter.key_encoding) == ("", "utf-8")
    assert letter.payload_bytes() == b""


def test_dead_letter_encoding_must_match_value() -> None:
    wire = json.loads(
        DeadLetter.from_raw("livescores", 0, 0, b"k", b"v", "internal", "x").model_dump_json()
    )
    wire["key_encoding"] = None
    with pytest.raises(ValidationError, match="key_encoding must be None exactly when key"):
        DeadLetter.model_validate_json(json.dumps(wire))


@pytest.mark.parametrize("error_type", ["bad_luck", "", None])
def test_dead_letter_error_type_is_closed(error_type: Any) -> None:
    with pytest.raises(ValidationError):
        DeadLetter.from_raw("livescores", 0, 0, b"k", b"v", error_type, "x")


def test_dead_letter_long_message_is_cut_not_rejected() -> None:
    letter = DeadLetter.from_raw("livescores", 0, 0, None, b"v", "internal", "boom " * 10_000)
    assert len(letter.error.message) == 1000
    assert letter.error.message.endswith("…")


def test_dead_letter_from_classified_error() -> None:
    payload = b"\xff"
    error = schema_error(Livescore, payload)
    letter = DeadLetter.from_raw("livescores", 1, 3, b"m", payload, error.type, error.message)
    assert letter.error.type == "invalid_json"
    assert letter.payload_bytes() == payload

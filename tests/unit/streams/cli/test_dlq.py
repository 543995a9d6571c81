"""The pure parts of ``python -m streams dlq``: IDs, times, filters, decoding, the ledger."""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import io
import json

import pytest

from schemas import DeadLetter
from streams.cli import CommandError
from streams.cli.dlq import confirm, describe, list_line, show_document, summary
from streams.cli.dlq_plan import (
    Filters,
    Letter,
    LetterId,
    Replayed,
    Stored,
    cut_size,
    earlier_replay,
    iso_time,
    letter_id,
    newest_replays,
    parse_letters,
    plan_replay,
    whole_from_source,
)
from streams.cli.main import main
from streams.flow.dead_letters import MAX_DEAD_LETTER_PAYLOAD, dead_letter
from streams.flow.records import RawRecord
from streams.metrics import Metrics

DLQ = "predictions-dlq"
T0 = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)


def letter(
    partition: int = 0,
    offset: int = 0,
    *,
    source: str = "match-requests",
    source_at: tuple[int, int] = (1, 40),
    key: bytes | None = b"m1",
    payload: bytes | None = b'{"match_id": "m1"}',
    reason: str = "schema",
    message: str = "bad field",
    minutes: int = 0,
) -> Letter:
    body = DeadLetter.from_raw(
        source,
        source_at[0],
        source_at[1],
        key,
        payload,
        reason,  # type: ignore[arg-type]  # the tests pass valid reasons
        message,
        received_at=T0 + dt.timedelta(minutes=minutes),
    )
    return Letter(partition, offset, body)


def replayed(x: Letter, **changes: object) -> Replayed:
    fields: dict[str, object] = {
        "dead_letter": x.position(DLQ),
        "source": x.body.location,
        "received_at": x.body.received_at,
        "replayed_to": "match-requests[1]@99",
        "replayed_at": T0 + dt.timedelta(hours=1),
        "by": "ops@host",
        "forced": False,
    }
    return Replayed(**(fields | changes))


# --- IDs and times ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2@17", LetterId(None, 2, 17)),
        ("0@0", LetterId(None, 0, 0)),
        ("predictions-dlq[2]@17", LetterId("predictions-dlq", 2, 17)),
        ("t1.x_y-dlq[10]@123456", LetterId("t1.x_y-dlq", 10, 123456)),
    ],
)
def test_ids_parse(text: str, expected: LetterId) -> None:
    assert letter_id(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "2", "2@", "@17", "2@17 ", " 2@17", "02@17", "2@017", "-1@3", "2@x", "2:17", "2@1@7",
     "\uff12@17", "dlq[2]17", "dlq[2]@", "dlq[]@1", "d lq[2]@1", "dlq(2)@1", "[2]@17", "2@17\n"],
)  # fmt: skip
def test_ids_are_strict(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not a dead letter ID"):
        letter_id(text)


def test_an_id_of_another_topic_is_refused() -> None:
    args = argparse.Namespace(
        reason=None, source=None, since=None, until=None, ids=[letter_id("other[0]@1")]
    )
    with pytest.raises(CommandError, match=r"other\[0\]@1 is not in predictions-dlq") as info:
        Filters.from_args(args, DLQ)
    assert info.value.exit_code == 2


def test_times_are_utc_unless_they_say_otherwise() -> None:
    assert iso_time("2026-12-01") == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert iso_time("2026-12-01T10:30") == dt.datetime(2026, 12, 1, 10, 30, tzinfo=dt.UTC)
    plus_two = iso_time("2026-12-01T12:00+02:00")
    assert plus_two == T0 and plus_two.utcoffset() == dt.timedelta(hours=2)
    assert iso_time("2026-12-01T10:00:00Z") == T0
    for bad in ("yesterday", "2026-13-01", "12/01/2026", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="not an ISO date or time"):
            iso_time(bad)


# --- filters and selection -------------------------------------------------------------


def test_each_filter_selects() -> None:
    a = letter(0, 1, reason="schema", minutes=0)
    b = letter(1, 2, reason="invalid_json", source="livescores", minutes=10)
    c = letter(2, 3, reason="unknown_match", minutes=20)
    everything = [a, b, c]

    def pick(**fields: object) -> list[Letter]:
        return [x for x in everything if Filters(**fields).matches(x)]  # type: ignore[arg-type]

    assert pick() == everything
    assert pick(reasons=frozenset({"schema"})) == [a]
    assert pick(reasons=frozenset({"schema", "unknown_match"})) == [a, c]
    assert pick(source="livescores") == [b]
    assert pick(since=T0 + dt.timedelta(minutes=10)) == [b, c]  # inclusive
    assert pick(until=T0 + dt.timedelta(minutes=10)) == [a]  # exclusive
    assert pick(ids=frozenset({(1, 2), (2, 3)})) == [b, c]
    assert pick(ids=frozenset({(1, 3)})) == []  # partition and offset both count
    assert pick(reasons=frozenset({"schema"}), source="livescores") == []


def test_since_must_be_before_until() -> None:
    args = argparse.Namespace(reason=None, source=None, since=T0, until=T0, ids=None)
    with pytest.raises(CommandError, match="--since must be before --until"):
        Filters.from_args(args, DLQ)


def test_letters_parse_oldest_first_and_junk_is_counted() -> None:
    late, early = letter(0, 5, minutes=5), letter(3, 1, minutes=1)
    records = [
        Stored(0, 5, None, late.body.model_dump_json().encode()),
        Stored(0, 6, None, b"{not json"),
        Stored(0, 7, None, None),
        Stored(0, 8, None, b'{"source_topic": "x"}'),
        Stored(3, 1, None, early.body.model_dump_json().encode()),
    ]
    letters, unreadable = parse_letters(records)
    assert [(x.partition, x.offset) for x in letters] == [(3, 1), (0, 5)]
    assert letters[1].body == late.body
    assert unreadable == 3


# --- payloads: decoding and cut ones ---------------------------------------------------


def test_original_bytes_come_back_from_text_and_base64() -> None:
    binary = b'{"request_id": "\xff\xfe"}'
    x = letter(key=None, payload=binary)
    assert x.body.payload_encoding == "base64"
    plan = plan_replay([x], DLQ, {}, {"match-requests": 4}, {}, force=False)
    assert [(r.key, r.value, r.partition) for r in plan.todo] == [(None, binary, 1)]
    broken = DeadLetter.model_validate(
        x.body.model_dump() | {"payload": "not base64!", "payload_encoding": "base64"}
    )
    refused = plan_replay(
        [Letter(0, 0, broken)], DLQ, {}, {"match-requests": 4}, {}, force=False
    ).refused
    assert len(refused) == 1 and refused[0][1].startswith("key or payload not as its encoding")


def test_a_base64_key_comes_back_too() -> None:
    key = b"\x00\xffkey"
    x = letter(key=key)
    assert x.body.key_encoding == "base64" and x.body.key == base64.b64encode(key).decode()
    plan = plan_replay([x], DLQ, {}, {"match-requests": 4}, {}, force=False)
    assert plan.todo[0].key == key


def cut_letter(original: bytes, key: bytes = b"m1") -> DeadLetter:
    raw = RawRecord("match-requests", 1, 40, key, original, timestamp=0.0)
    return dead_letter(raw, "invalid_json", "Invalid JSON", Metrics())


def test_a_cut_payload_is_recognised_from_the_workers_own_note() -> None:
    original = b"x" * (MAX_DEAD_LETTER_PAYLOAD + 10)
    body = cut_letter(original)
    assert cut_size(body) == (MAX_DEAD_LETTER_PAYLOAD, len(original))
    assert cut_size(letter(message="[payload cut... no, a producer's own words").body) is None


def test_a_cut_payload_is_taken_whole_from_its_source_only_when_it_is_that_record() -> None:
    original = b"y" * (MAX_DEAD_LETTER_PAYLOAD + 10)
    body = cut_letter(original)
    assert whole_from_source(body, Stored(1, 40, b"m1", original)) == original
    gone = whole_from_source(body, None)
    assert isinstance(gone, str) and "match-requests[1]@40 is gone" in gone
    for other in (
        Stored(1, 40, b"m2", original),  # another key
        Stored(1, 40, b"m1", original + b"z"),  # another length
        Stored(1, 40, b"m1", b"z" + original[1:]),  # other first bytes
        Stored(1, 40, b"m1", None),
    ):
        why = whole_from_source(body, other)
        assert isinstance(why, str) and "holds another record" in why


def test_a_cut_letter_is_sent_whole_or_refused() -> None:
    original = b"y" * (MAX_DEAD_LETTER_PAYLOAD + 10)
    x = Letter(0, 3, cut_letter(original))
    parts = {"match-requests": 4}
    sent = plan_replay(
        [x], DLQ, {}, parts, {x.body.location: Stored(1, 40, b"m1", original)}, force=False
    )
    assert [r.value for r in sent.todo] == [original]
    refused = plan_replay([x], DLQ, {}, parts, {x.body.location: None}, force=False)
    assert refused.todo == [] and "is gone" in refused.refused[0][1]


# --- the ledger ------------------------------------------------------------------------


def test_the_ledger_keeps_the_newest_replay_and_forgets_on_a_tombstone() -> None:
    a, b = letter(0, 1), letter(0, 2)
    first, second = replayed(a), replayed(a, replayed_to="match-requests[1]@120", forced=True)
    records = [
        Stored(0, 0, a.position(DLQ).encode(), first.model_dump_json().encode()),
        Stored(0, 1, b.position(DLQ).encode(), replayed(b).model_dump_json().encode()),
        Stored(0, 2, a.position(DLQ).encode(), second.model_dump_json().encode()),
        Stored(0, 3, b.position(DLQ).encode(), None),
        Stored(0, 4, b"junk", b"{}"),
        Stored(0, 5, None, b"{}"),
    ]
    replays, unreadable = newest_replays(records)
    assert replays == {a.position(DLQ): second}
    assert unreadable == 2


def test_replayed_letters_are_skipped_unless_forced() -> None:
    done, fresh = letter(0, 1), letter(0, 2, source_at=(1, 41))
    replays = {done.position(DLQ): replayed(done)}
    parts = {"match-requests": 4}
    plan = plan_replay([done, fresh], DLQ, replays, parts, {}, force=False)
    assert [r.dead_letter for r in plan.todo] == [fresh.position(DLQ)]
    assert plan.skipped == [(done, replays[done.position(DLQ)])]
    assert not plan.todo[0].forced
    forced = plan_replay([done, fresh], DLQ, replays, parts, {}, force=True)
    assert [(r.dead_letter, r.forced) for r in forced.todo] == [
        (done.position(DLQ), True),
        (fresh.position(DLQ), False),
    ]
    assert forced.skipped == []


def test_a_reused_position_is_not_taken_for_the_letter_replayed_there() -> None:
    # The DLQ topic was deleted and made again: its position 0@1 now holds another letter.
    old = letter(0, 1, minutes=0)
    replays = {old.position(DLQ): replayed(old)}
    new_there = letter(0, 1, minutes=30)
    assert earlier_replay(old, DLQ, replays) is not None
    assert earlier_replay(new_there, DLQ, replays) is None
    elsewhere = letter(0, 1, source_at=(2, 7))
    assert earlier_replay(elsewhere, DLQ, replays) is None


def test_limit_counts_the_letters_to_send_and_missing_partitions_are_refused() -> None:
    done = letter(0, 1)
    rest = [letter(0, i, source_at=(1, 40 + i)) for i in range(2, 6)]
    replays = {done.position(DLQ): replayed(done)}
    plan = plan_replay([done, *rest], DLQ, replays, {"match-requests": 4}, {}, force=False, limit=2)
    assert [r.dead_letter for r in plan.todo] == [x.position(DLQ) for x in rest[:2]]
    assert len(plan.skipped) == 1
    gone = plan_replay(rest[:1], DLQ, {}, {"match-requests": 1}, {}, force=False)
    assert gone.refused[0][1] == "match-requests[1] does not exist"
    no_topic = plan_replay(rest[:1], DLQ, {}, {}, {}, force=False)
    assert no_topic.todo == [] and len(no_topic.refused) == 1


# --- what people see -------------------------------------------------------------------


def test_a_list_line_fits_and_names_everything() -> None:
    x = letter(2, 17, message="a very long message\nover two lines " + "x" * 300)
    line = list_line(x, 100)
    assert len(line) == 100 and line.endswith("…") and "\n" not in line
    assert line.split()[:4] == ["2@17", "2026-12-01T10:00:00Z", "match-requests[1]@40", "schema"]
    assert list_line(letter(message="short"), 100).endswith("schema         short")


def test_show_decodes_the_payload() -> None:
    doc = show_document(letter(2, 17), DLQ, None)
    assert doc["id"] == "2@17" and doc["dead_letter"] == "predictions-dlq[2]@17"
    assert doc["payload"] == {"match_id": "m1"} and doc["payload_bytes"] == 18
    assert doc["error"] == {"type": "schema", "message": "bad field"}
    assert doc["replayed"] is None
    binary = show_document(letter(payload=b"\xff{"), DLQ, None)
    assert binary["payload_encoding"] == "base64" and binary["payload"] == "\\xff{"
    x = letter(2, 17)
    shown = show_document(x, DLQ, replayed(x))
    assert shown["replayed"]["by"] == "ops@host"
    json.dumps(shown)  # all of it is JSON
    cut = show_document(Letter(0, 0, cut_letter(b"z" * (MAX_DEAD_LETTER_PAYLOAD + 1))), DLQ, None)
    assert cut["payload_cut"] == {
        "kept_bytes": MAX_DEAD_LETTER_PAYLOAD,
        "original_bytes": MAX_DEAD_LETTER_PAYLOAD + 1,
    }


def test_the_plan_is_described_line_by_line() -> None:
    done, fresh = letter(0, 1), letter(0, 2, source_at=(1, 41))
    bad = letter(0, 3, source="gone-topic")
    replays = {done.position(DLQ): replayed(done)}
    plan = plan_replay([done, fresh, bad], DLQ, replays, {"match-requests": 4}, {}, force=False)
    by_position = {x.position(DLQ): x for x in (done, fresh, bad)}
    lines = describe(plan, by_position, 120)
    assert [line.split()[:2] for line in lines] == [
        ["replay", "0@2"],
        ["skip", "0@1:"],
        ["refuse", "0@3:"],
    ]
    assert "by ops@host to match-requests[1]@99" in lines[1]
    assert summary(plan, done=False) == (
        "would replay 1 dead letter to match-requests (1); "
        "skipped 1 replayed before (--force sends them again); refused 1"
    )


def test_confirm_takes_only_yes(monkeypatch: pytest.MonkeyPatch) -> None:
    for answer, expected in (
        ("y\n", True),
        ("YES\n", True),
        ("\n", False),
        ("n\n", False),
        ("", False),
        ("yep\n", False),
    ):
        monkeypatch.setattr("sys.stdin", io.StringIO(answer))
        assert confirm("replay?") is expected


# --- the command line, before any Kafka call -------------------------------------------


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["dlq"], "required: verb"),
        (["dlq", "show"], "required: ID"),
        (["dlq", "show", "2-17"], "not a dead letter ID"),
        (["dlq", "list", "--reason", "bogus"], "invalid choice: 'bogus'"),
        (["dlq", "list", "--since", "yesterday"], "not an ISO date or time"),
        (["dlq", "list", "--limit", "0"], "expected a positive integer"),
        (["dlq", "replay", "--ids", "2@17x"], "not a dead letter ID"),
    ],
)
def test_bad_arguments_are_one_line(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith("error: ") and says in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["dlq", "replay", "--yes"], "choose the letters"),
        (["dlq", "replay", "--ids", "other-dlq[0]@1"], "is not in predictions-dlq"),
        (["dlq", "show", "other-dlq[0]@1"], "is not in predictions-dlq"),
        (["dlq", "list", "--since", "2026-12-02", "--until", "2026-12-01"], "--since must be"),
    ],
)
def test_unusable_selections_are_one_line_before_any_kafka_call(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # a Kafka call would fail
    monkeypatch.setenv("PREDICTIONS_DLQ_TOPIC", "predictions-dlq")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and says in err and err.count("\n") == 1
    assert "kafka" not in err

"""Bytes to records: every bad input gets its reason."""

from __future__ import annotations

import pytest

from schemas import DeadLetterReason, Livescore
from streams.flow.decode import decode
from tests.factories import livescore, raw


class TestDecode:
    def test_valid_livescore(self) -> None:
        record = decode(raw(livescore().model_dump_json().encode()), Livescore)
        assert isinstance(record, Livescore) and record.minute == 10

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            (b"{nope", "invalid_json"),
            (b"\xff\xfe", "invalid_json"),
            (None, "invalid_json"),
            (b"[1, 2]", "invalid_json"),
            (b'{"match_id": "m1"}', "schema"),
        ],
    )
    def test_bad_bytes_get_a_reason(self, value: bytes | None, reason: str) -> None:
        result = decode(raw(value), Livescore)
        assert isinstance(result, DeadLetterReason) and result.type == reason

    def test_key_must_be_the_match_id(self) -> None:
        result = decode(raw(livescore().model_dump_json().encode(), key=b"other"), Livescore)
        assert isinstance(result, DeadLetterReason)
        assert result.type == "schema" and "'other'" in result.message

    def test_null_key_is_accepted(self) -> None:
        assert isinstance(
            decode(raw(livescore().model_dump_json().encode(), key=None), Livescore), Livescore
        )

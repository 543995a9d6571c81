"""The one error contract: dead letters keep what they can of the input."""

from __future__ import annotations

from streams.metrics import Metrics
from tests.factories import raw


def test_huge_payload_is_cut_in_its_dead_letter() -> None:
    from streams.flow.dead_letters import MAX_DEAD_LETTER_PAYLOAD, dead_letter

    huge = b"{" + b"x" * (3 * MAX_DEAD_LETTER_PAYLOAD)
    metrics = Metrics()
    letter = dead_letter(raw(huge), "invalid_json", "Invalid JSON", metrics)
    assert letter.payload_bytes() == huge[:MAX_DEAD_LETTER_PAYLOAD]
    assert (
        f"of {len(huge)} bytes" in letter.error.message
        and "livescores[0]@7" in letter.error.message
    )
    assert metrics.dead_letters.labels(reason="invalid_json")._value.get() == 1


def test_small_payload_is_kept_whole() -> None:
    from streams.flow.dead_letters import dead_letter

    letter = dead_letter(raw(b"{nope"), "invalid_json", "Invalid JSON", Metrics())
    assert letter.payload_bytes() == b"{nope" and letter.error.message == "Invalid JSON"

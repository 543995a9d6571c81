"""W3C traceparent parsing, tracestate forwarding and child contexts."""

from __future__ import annotations

import pytest

from streams.flow.trace_context import (
    Source,
    TraceParent,
    Tracing,
    from_headers,
    new_span_id,
    parse_traceparent,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{SPAN}-01"


def test_a_valid_traceparent_parses() -> None:
    parent = parse_traceparent(VALID.encode())
    assert parent == TraceParent(TRACE, SPAN, "01")
    assert parent.sampled and parent.header() == VALID
    assert not TraceParent(TRACE, SPAN, "00").sampled
    assert parse_traceparent(f" {VALID}\t") == parent  # optional whitespace around it


@pytest.mark.parametrize(
    "value",
    [
        None,
        b"",
        "garbage",
        VALID[:-1],  # too short
        VALID + "-",  # version 00 is exactly 55 characters
        VALID + "0",
        f"ff-{TRACE}-{SPAN}-01",  # version ff is invalid
        f"0g-{TRACE}-{SPAN}-01",
        f"00-{'0' * 32}-{SPAN}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"00-{TRACE.upper()}-{SPAN}-01",  # hex is lowercase
        f"00-{TRACE}-{SPAN}-0x",
        f"00_{TRACE}-{SPAN}-01",
        f"00-{TRACE}_{SPAN}-01",
        f"00-{TRACE}-{SPAN}_01",
        f"00-{TRACE[:-1]}+-{SPAN}-01",
        "00-" + TRACE + "-" + SPAN + "-01".replace("1", "é"),
        b"\xff" * 55,
        f"01-{TRACE}-{SPAN}-01x",  # a later version: the 56th character must be "-"
    ],
)
def test_invalid_traceparents_are_ignored(value: str | bytes | None) -> None:
    assert parse_traceparent(value) is None


#: The ids of the W3C Trace Context test suite (w3c/trace-context, test/test.py).
W3C_TRACE = "12345678901234567890123456789012"
W3C_SPAN = "1234567890123456"


@pytest.mark.parametrize(
    "value",
    [
        f"ff-{W3C_TRACE}-{W3C_SPAN}-01",  # version 255 is invalid
        f"00-{'0' * 32}-{W3C_SPAN}-01",  # all-zero trace id
        f"00-{W3C_TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"00-{W3C_TRACE}-{W3C_SPAN}-01.",  # version 00 with trailing characters
        f"00-{W3C_TRACE}-{W3C_SPAN}-01-what-the-future-will-be-like",
        f"cc-{W3C_TRACE}-{W3C_SPAN}-01.what-the-future-will-be-like",
        f".0-{W3C_TRACE}-{W3C_SPAN}-01",  # illegal characters in the version
        f"0.-{W3C_TRACE}-{W3C_SPAN}-01",
        f"000-{W3C_TRACE}-{W3C_SPAN}-01",  # version too long
        f"0-{W3C_TRACE}-{W3C_SPAN}-01",  # version too short
        f"00-.{W3C_TRACE[1:]}-{W3C_SPAN}-01",  # illegal characters in the trace id
        f"00-{W3C_TRACE}3-{W3C_SPAN}-01",  # trace id too long
        f"00-{W3C_TRACE[:-1]}-{W3C_SPAN}-01",  # trace id too short
        f"00-{W3C_TRACE}-.{W3C_SPAN[1:]}-01",  # illegal characters in the parent id
        f"00-{W3C_TRACE}-{W3C_SPAN}7-01",  # parent id too long
        f"00-{W3C_TRACE}-{W3C_SPAN[:-1]}-01",  # parent id too short
        f"00-{W3C_TRACE}-{W3C_SPAN}-.0",  # illegal characters in the flags
        f"00-{W3C_TRACE}-{W3C_SPAN}-1",  # flags too short
        f"00-{W3C_TRACE}-{W3C_SPAN}-011",  # flags too long
    ],
)
def test_the_w3c_test_suites_invalid_traceparents_are_ignored(value: str) -> None:
    assert parse_traceparent(value) is None
    assert from_headers([("traceparent", value.encode())]) is None


@pytest.mark.parametrize(
    "value",
    [
        f"cc-{W3C_TRACE}-{W3C_SPAN}-01",  # a future version, read as 00
        f"cc-{W3C_TRACE}-{W3C_SPAN}-01-what-the-future-will-be-like",
    ],
)
def test_the_w3c_test_suites_future_versions_are_kept(value: str) -> None:
    assert parse_traceparent(value) == TraceParent(W3C_TRACE, W3C_SPAN, "01")


def test_a_later_version_is_read_as_version_00() -> None:
    assert parse_traceparent(f"cc-{TRACE}-{SPAN}-01-what-the-future-adds") == TraceParent(
        TRACE, SPAN, "01"
    )
    assert parse_traceparent(f"cc-{TRACE}-{SPAN}-01") == TraceParent(TRACE, SPAN, "01")


def test_headers_give_the_first_traceparent_and_its_tracestate() -> None:
    headers = [
        ("other", b"x"),
        ("tracestate", b"congo=t61rcWkgMzE"),
        ("traceparent", VALID.encode()),
        ("traceparent", f"00-{'1' * 32}-{SPAN}-01".encode()),
    ]
    assert from_headers(headers) == TraceParent(TRACE, SPAN, "01", "congo=t61rcWkgMzE")
    assert from_headers(None) is None and from_headers([]) is None
    assert from_headers([("tracestate", b"a=b")]) is None  # a state alone is no context
    # An invalid traceparent makes the whole context invalid, its state with it.
    assert from_headers([("traceparent", b"00-bad"), ("tracestate", b"a=b")]) is None
    # The first traceparent is the one, even without a value.
    assert from_headers([("traceparent", None), ("traceparent", VALID.encode())]) is None
    # Members go on as they came; only the blanks around the commas go.
    assert from_headers([("traceparent", VALID.encode()), ("tracestate", b"a=1 ,\tb=2")]) == (
        TraceParent(TRACE, SPAN, "01", "a=1,b=2")
    )
    # A state too long or not printable ASCII is dropped, the parent kept.
    for state in (b"a=" + b"b" * 600, b"a=\x00", "a=é".encode()):
        assert from_headers([("traceparent", VALID.encode()), ("tracestate", state)]) == (
            TraceParent(TRACE, SPAN, "01")
        )


def test_a_child_keeps_trace_flags_and_state_with_a_new_span_id() -> None:
    parent = TraceParent(TRACE, SPAN, "00", "k=v")
    child = parent.child()
    assert (child.trace_id, child.flags, child.state) == (TRACE, "00", "k=v")
    assert child.span_id != SPAN and len(child.span_id) == 16
    assert parse_traceparent(child.header()) == TraceParent(TRACE, child.span_id, "00")
    assert child.headers() == [
        ("traceparent", child.header().encode()),
        ("tracestate", b"k=v"),
    ]
    assert TraceParent(TRACE, SPAN, "01").headers() == [("traceparent", VALID.encode())]
    ids = {new_span_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) == 16 and i != "0" * 16 for i in ids)


def test_without_export_only_inputs_with_a_context_get_headers() -> None:
    tracing = Tracing()
    source = Source("livescores", 0, 7)
    assert tracing.child(None, source, "prediction") == (None, None)
    headers, span = tracing.child(TraceParent(TRACE, SPAN, "01"), source, "prediction")
    assert span is None and headers is not None
    child = parse_traceparent(headers[0][1])
    assert child is not None and child.trace_id == TRACE and child.span_id != SPAN

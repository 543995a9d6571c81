"""The logging config: libraries quiet, and no line per record for a malformed trace header."""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Iterator

import pytest

from streams.flow.trace_context import from_headers
from streams.logs import logging_dict

TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
BAD_STATE = [("traceparent", TRACEPARENT), ("tracestate", b"not a member,,=")]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[Records]:
    """A handler on the root logger; the root's handlers and levels are restored after."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    reset_otel_loggers()  # whatever config an earlier test in this process applied
    root.setLevel(logging.WARNING)
    handler = Records()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
        reset_otel_loggers()


def reset_otel_loggers() -> None:
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("opentelemetry"):
            logger = logging.getLogger(name)
            logger.setLevel(logging.NOTSET)
            logger.disabled = False


def otel_warnings(handler: Records) -> list[logging.LogRecord]:
    return [r for r in handler.records if r.name.startswith("opentelemetry")]


def test_a_malformed_tracestate_warns_unless_configured(records: Records) -> None:
    # Without our config OpenTelemetry warns for the record: the case the config guards.
    from_headers(BAD_STATE)
    assert otel_warnings(records), "OpenTelemetry no longer warns: the guard may be stale"


def test_the_config_keeps_per_record_warnings_out(records: Records) -> None:
    config = logging_dict("INFO")
    config["handlers"] = {}
    config["root"] = {"level": "INFO"}
    logging.config.dictConfig(config)  # replaces the root's handlers: attach ours again
    logging.getLogger().addHandler(records)
    for _ in range(3):
        assert from_headers(BAD_STATE) is not None  # the traceparent still counts
    assert otel_warnings(records) == []

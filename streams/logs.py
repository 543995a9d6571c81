"""Structured logs, quiet by default: our events at LOG_LEVEL, libraries at WARNING."""

from __future__ import annotations

import logging
import logging.config
from typing import Any

import structlog

NOISY_LIBRARIES = ("faust", "mode", "aiokafka", "kafka", "mlflow", "alembic", "urllib3", "aiohttp")
#: Loggers that warn once per input record: OpenTelemetry's trace-context propagator warns on
#: every malformed ``tracestate``, so one bad producer would write a line per event. The
#: header is ignored as the W3C spec says; only errors are worth a line.
PER_RECORD_WARNERS = ("opentelemetry.trace.propagation.tracecontext", "opentelemetry.trace.span")


def logging_dict(level: str, library_level: str = "WARNING") -> dict[str, Any]:
    """The stdlib logging config (also handed to the Faust worker, which applies its own).

    The libraries log at ``library_level`` or ``level``, whichever is quieter.
    """
    level = level.upper()
    names = logging.getLevelNamesMapping()
    quiet = max(level, library_level.upper(), key=lambda name: names.get(name, logging.INFO))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(message)s"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {name: {"level": quiet} for name in NOISY_LIBRARIES}
        | {name: {"level": "ERROR"} for name in PER_RECORD_WARNERS},
    }


def configure_logging(level: str = "INFO", library_level: str = "WARNING") -> None:
    """One key=value line per event on stderr (grep-friendly, parseable)."""
    logging.config.dictConfig(logging_dict(level, library_level))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "event"]),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )

"""Structured logs, quiet by default: our events at LOG_LEVEL, libraries at WARNING."""

from __future__ import annotations

import logging
import sys

import structlog

NOISY_LIBRARIES = ("faust", "mode", "aiokafka", "kafka", "mlflow", "alembic", "urllib3")


def configure_logging(level: str = "INFO") -> None:
    """One key=value line per event on stderr (JSON-friendly, grep-friendly)."""
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    logging.basicConfig(stream=sys.stderr, level=numeric, format="%(message)s", force=True)
    for name in NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "event"]),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )

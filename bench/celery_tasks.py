"""The design the stream replaces: a Celery task per event, RabbitMQ broker, Redis results.

    BENCH_CELERY_BROKER=amqp://... BENCH_CELERY_BACKEND=redis://... \
        .venv/bin/python -m celery -A bench.celery_tasks worker --concurrency 2

``python -m bench`` starts that worker itself. Each task answers one event with the same
decode, feature lookup and registry model as the stream (:class:`bench.serving.OneByOne`)
and returns the prediction JSON, which Celery stores in the Redis result backend.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from bench.serving import OneByOne
from streams.settings import Settings

app = Celery(
    "bench",
    broker=os.environ.get("BENCH_CELERY_BROKER", "amqp://guest:guest@127.0.0.1:5672//"),
    backend=os.environ.get("BENCH_CELERY_BACKEND", "redis://127.0.0.1:6379/0"),
)
# Celery's defaults are what the old design ran with; results expire so the bench cleans up.
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=600,
    worker_hijack_root_logger=False,
)
_serving: OneByOne | None = None


@worker_process_init.connect
def _load_model(**_: Any) -> None:
    # Once per prefork child, before its first task, like the old workers did.
    global _serving
    _serving = OneByOne.load(Settings())


@app.task(name="bench.predict_event")
def predict_event(key: str, value: str) -> str:
    """One event in, its prediction JSON out."""
    global _serving
    if _serving is None:  # a solo/threads pool has no worker_process_init
        _serving = OneByOne.load(Settings())
    return _serving.predict(key.encode(), value.encode()).decode()

"""Shared fixtures: the real local stack, and per-test isolation on it.

Integration tests ask for ``stack``: when Kafka and Redis already answer at the configured
addresses they are used as they are; otherwise the session starts them with the same code
as ``python -m streams stack up`` and stops what it started at the end.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from devstack.local_stack import LocalStack
from devstack.probes import kafka_ready, redis_ready
from devstack.topics import delete_topics_named, run_names
from streams.settings import Settings


@dataclass(frozen=True)
class RunningStack:
    """Addresses of the servers the integration tests talk to."""

    settings: Settings

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap_servers

    @property
    def redis_url(self) -> str:
        return self.settings.redis_url.get_secret_value()


#: Written by the process that started a server of the local stack for this run, read by
#: the process that stops it at the end: under pytest-xdist these are different processes.
STARTED_MARKER = "local-stack-started"


def run_root(factory: pytest.TempPathFactory) -> Path:
    """The folder every process of this run shares: under pytest-xdist each worker's basetemp
    is a child of the controller's."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> RunningStack:
    """The local Kafka and Redis, started once per run by whichever process asks first.

    Servers that already answer are used as they are and left running. What this run
    starts is stopped by ``pytest_sessionfinish`` of the process that owns the run (the
    xdist controller, or pytest itself without xdist), after every worker has finished.
    """
    settings = Settings()
    root = run_root(tmp_path_factory)
    with FileLock(root / "local-stack.lock"):
        local = LocalStack(settings)
        started = []
        if not redis_ready(settings.redis_url.get_secret_value()):
            local.redis.start()
            started.append("redis")
        if not kafka_ready(settings.kafka_bootstrap_servers):
            local.kafka.start()
            started.append("kafka")
        if started:
            marker = root / STARTED_MARKER
            known = marker.read_text().split() if marker.exists() else []
            marker.write_text(" ".join([*known, *started]))
    return RunningStack(settings)


#: Files that start before every other: one long test each, which at their place in
#: pytest-xdist's own order (files with the most tests first) ran last, one process alone
#: for two minutes (`make test`'s --durations shows them).
LONG_AND_SHORT = ("integration/test_chaos.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The order ``--dist loadfile --no-loadscope-reorder`` hands files out in: those of
    :data:`LONG_AND_SHORT` first, then xdist's own (most tests first), which keeps the many
    quick unit files running beside the integration files' waits."""
    here = Path(__file__).resolve().parent
    counts = Counter(item.path for item in items)

    def rank(item: pytest.Item) -> tuple[int, int]:
        path = item.path.relative_to(here).as_posix() if item.path.is_relative_to(here) else ""
        return (0 if path in LONG_AND_SHORT else 1, -counts[item.path])

    items.sort(key=rank)  # stable: a file's tests keep their order


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop the servers this run started, once, in the process that owns the run."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    marker = factory.getbasetemp() / STARTED_MARKER
    if not marker.exists():
        return
    local = LocalStack(Settings())
    servers = {"redis": local.redis, "kafka": local.kafka}
    for name in reversed(marker.read_text().split()):
        servers[name].stop()
    marker.unlink()


@pytest.fixture
def test_id() -> str:
    """A short id unique to this test, for topic names, groups and key prefixes."""
    return uuid.uuid4().hex[:10]


def own_settings(stack: RunningStack, test_id: str, root: Path, **overrides: Any) -> Settings:
    """Settings whose topics, consumer group, Redis prefix and state are this test's own."""
    fields: dict[str, Any] = {
        "kafka_bootstrap_servers": stack.bootstrap,
        "redis_url": stack.redis_url,
        **run_names(f"t{test_id}"),
        "state_dir": root / "state",
        "features_dir": root / "features",
        "mlflow_tracking_uri": f"sqlite:///{root / 'mlflow.db'}",
    }
    return Settings(**(fields | overrides))


@contextmanager
def topics_deleted_after(settings: Settings) -> Iterator[Settings]:
    """Delete the topics named after ``settings``' consumer group once the block ends.

    Tests make their own topics (and their workers make changelogs); hundreds of
    leftover partitions made the one local broker, and every later test, slower.
    """
    try:
        yield settings
    finally:
        if kafka_ready(settings.kafka_bootstrap_servers):  # a stopped broker: nothing to do
            asyncio.run(delete_topics_named(settings, settings.consumer_group))


@pytest.fixture
def isolated_settings(stack: RunningStack, test_id: str, tmp_path: Path) -> Iterator[Settings]:
    with topics_deleted_after(own_settings(stack, test_id, tmp_path)) as settings:
        yield settings

"""Shared fixtures: the real local stack, and per-test isolation on it.

Integration tests ask for ``stack``: when Kafka and Redis already answer at the configured
addresses they are used as they are; otherwise the session starts them with the same code
as ``python -m streams stack up`` and stops what it started at the end.
"""

from __future__ import annotations

import asyncio
import os
import uuid
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


#: The longest files first (from `make test`'s --durations and the files' own fixtures: a
#: secured stack, two workers, a chaos run). ``--dist loadfile`` hands files out in
#: collection order when told ``--no-loadscope-reorder`` (else it orders them by their
#: number of tests, and the one-test chaos file came last), so with these last the two
#: processes ended minutes apart; first, they run while the other process works through
#: the short ones, and both end together.
LONGEST_FIRST = (
    "integration/test_secure_stack.py",
    "integration/test_chaos.py",
    "integration/test_evaluation.py",
    "integration/test_stream_features.py",
    "integration/test_read_models.py",
    "integration/test_dlq_cli.py",
    "integration/test_faults.py",
    "integration/test_match_pages.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent

    def rank(item: pytest.Item) -> int:
        path = item.path.relative_to(here).as_posix() if item.path.is_relative_to(here) else ""
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order


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

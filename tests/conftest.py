"""Shared fixtures: the real local stack, and per-test isolation on it.

Integration tests ask for ``stack``: when Kafka and Redis already answer at the configured
addresses they are used as they are; otherwise the session starts them with the same code
as ``python -m streams stack up`` and stops what it started at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from streams.settings import Settings
from streams.stack.local_stack import LocalStack
from streams.stack.probes import kafka_ready, redis_ready


@dataclass(frozen=True)
class RunningStack:
    """Addresses of the servers the integration tests talk to."""

    settings: Settings

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap_servers

    @property
    def redis_url(self) -> str:
        return self.settings.redis_url


@pytest.fixture(scope="session")
def stack() -> Iterator[RunningStack]:
    settings = Settings()
    local = LocalStack(settings)
    started = []
    if not redis_ready(settings.redis_url):
        local.redis.start()
        started.append(local.redis)
    if not kafka_ready(settings.kafka_bootstrap_servers):
        local.kafka.start()
        started.append(local.kafka)
    try:
        yield RunningStack(settings)
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture
def test_id() -> str:
    """A short id unique to this test, for topic names, groups and key prefixes."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def isolated_settings(stack: RunningStack, test_id: str, tmp_path) -> Settings:
    """Settings whose topics, consumer group, Redis prefix and state belong to this test."""
    return Settings(
        kafka_bootstrap_servers=stack.bootstrap,
        redis_url=stack.redis_url,
        livescores_topic=f"t{test_id}-livescores",
        match_requests_topic=f"t{test_id}-match-requests",
        predictions_topic=f"t{test_id}-predictions",
        predictions_dlq_topic=f"t{test_id}-predictions-dlq",
        consumer_group=f"t{test_id}",
        redis_key_prefix=f"t{test_id}:",
        state_dir=tmp_path / "state",
        features_dir=tmp_path / "features",
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
    )

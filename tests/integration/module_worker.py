"""One worker per test module: the operations tests share it to stay fast on two cores."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from streams.settings import Settings
from tests.conftest import RunningStack
from tests.harness import free_port
from tests.integration.conftest import TrainedRegistry


def module_settings(
    stack: RunningStack, registry: TrainedRegistry, root: Path, **overrides: Any
) -> Settings:
    """Settings with topics, group, Redis prefix and state of their own (cf. isolated_settings)."""
    tid = uuid.uuid4().hex[:10]
    fields: dict[str, Any] = {
        "kafka_bootstrap_servers": stack.bootstrap,
        "redis_url": stack.redis_url,
        "livescores_topic": f"t{tid}-livescores",
        "match_requests_topic": f"t{tid}-match-requests",
        "predictions_topic": f"t{tid}-predictions",
        "predictions_dlq_topic": f"t{tid}-predictions-dlq",
        "consumer_group": f"t{tid}",
        "redis_key_prefix": f"t{tid}:",
        "state_dir": root / "state",
        "features_dir": registry.features_dir,
        "mlflow_tracking_uri": registry.tracking_uri,
        "web_port": free_port(),
        "features_poll_seconds": 1.0,
        "topic_partitions": 4,
    }
    return Settings(**(fields | overrides))

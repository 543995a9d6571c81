"""One worker per test module: the operations tests share it to stay fast on two cores."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devstack.supervisor import free_port
from devstack.worker import WorkerProcess
from streams.settings import Settings
from tests.conftest import RunningStack, own_settings
from tests.integration.conftest import TrainedRegistry


def module_settings(
    stack: RunningStack, registry: TrainedRegistry, root: Path, **overrides: Any
) -> Settings:
    """A module's own settings on the session's trained registry (cf. isolated_settings)."""
    shared: dict[str, Any] = {
        "features_dir": registry.features_dir,
        "mlflow_tracking_uri": registry.tracking_uri,
        "web_port": free_port(),
        "features_poll_seconds": 1.0,
        "topic_partitions": 4,
    }
    return own_settings(stack, uuid.uuid4().hex[:10], root, **(shared | overrides))


@contextmanager
def ready_worker(settings: Settings, log: Path) -> Iterator[WorkerProcess]:
    """A worker launched on ``settings``, ready, and stopped when the block ends."""
    process = WorkerProcess(settings, log).launch()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()

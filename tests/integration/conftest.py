"""Fixtures for end-to-end tests: a trained registry and a running worker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from filelock import FileLock

from devstack.supervisor import free_port
from devstack.worker import REPO, WorkerProcess
from schemas.features import MATCHES_FILE
from streams.settings import Settings
from tests.conftest import RunningStack, run_root

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under tests/integration talks to real servers or tools, so
    # `-m integration` (and `-m "not integration"`) select exactly this directory, whether
    # or not a module remembered its own pytestmark.
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)


@dataclass(frozen=True)
class TrainedRegistry:
    """An MLflow SQLite registry with a champion, and the feature tables of that run."""

    tracking_uri: str
    state_dir: Path
    features_dir: Path

    def train(self, seed: int, matches: int = 1500, features_dir: Path | None = None) -> None:
        """Train and register one more version (feature tables to ``features_dir``)."""
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "STATE_DIR": str(self.state_dir),
        }
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "models",
                "train",
                "--synthetic",
                str(matches),
                "--seed",
                str(seed),
                "--features-dir",
                str(features_dir or self.features_dir),
            ],
            cwd=REPO,
            env=env,
            check=False,
            capture_output=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise AssertionError(f"training failed: {result.stderr[-2000:]}")

    def match_ids(self) -> list[str]:
        frame = pd.read_parquet(self.features_dir / MATCHES_FILE)
        ids = frame.index if "match_id" not in frame.columns else frame["match_id"]
        return [str(i) for i in ids]


@pytest.fixture(scope="session")
def trained_template(tmp_path_factory: pytest.TempPathFactory) -> TrainedRegistry:
    """One trained champion for the whole run (training is ~20 s of CPU each time), shared
    by every pytest-xdist worker: the first one trains it, the others wait and read it."""
    root = run_root(tmp_path_factory) / "registry-template"
    registry = TrainedRegistry(
        tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
        state_dir=root / "state",
        features_dir=root / "features",
    )
    with FileLock(f"{root}.lock"):
        done = root / "trained"
        if not done.exists():
            root.mkdir(parents=True, exist_ok=True)
            registry.train(seed=0)
            done.touch()
    return registry


@pytest.fixture(scope="module")
def trained_registry(
    trained_template: TrainedRegistry, tmp_path_factory: pytest.TempPathFactory
) -> TrainedRegistry:
    """A module's own copy of the template: its registry database and feature tables, so
    aliases a module moves and versions or snapshots it adds stay in that module. The
    artifacts are shared, read-only (the copied database names the template's; versions a
    module registers get artifact folders of their own run ids there)."""
    root = tmp_path_factory.mktemp("registry")
    template_db = Path(trained_template.tracking_uri.removeprefix("sqlite:///"))
    shutil.copyfile(template_db, root / "mlflow.db")
    shutil.copytree(trained_template.features_dir, root / "features")
    return TrainedRegistry(
        tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
        state_dir=root / "state",
        features_dir=root / "features",
    )


@pytest.fixture
def worker_settings(isolated_settings: Settings, trained_registry: TrainedRegistry) -> Settings:
    # A fresh object, not model_copy: cached derived values must follow the new fields.
    return Settings(
        **{
            **isolated_settings.model_dump(),
            "mlflow_tracking_uri": trained_registry.tracking_uri,
            "features_dir": trained_registry.features_dir,
            "web_port": free_port(),
            "model_poll_seconds": 1.0,
            "features_poll_seconds": 1.0,
            "topic_partitions": 4,
        }
    )


@pytest.fixture
def worker(
    stack: RunningStack, worker_settings: Settings, tmp_path: Path
) -> Iterator[WorkerProcess]:
    process = WorkerProcess(worker_settings, tmp_path / "worker.log").launch()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()

"""Versions of the trained model that misbehave on purpose, for the tests of challengers
(``tests/integration/sabotaged_model.py``); an exact copy is ``models.registry.copy_version``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import joblib
import mlflow

from models import registry
from models.pyfunc_model import (
    PIPELINE_ARTIFACT,
    example_input,
    pip_requirements,
    signature_for,
)

NAME = "soccer_clf"
SABOTAGED = Path(__file__).with_name("sabotaged_model.py")
MODELS_PACKAGE = Path(registry.__file__).resolve().parent


def sabotaged_version(
    tracking_uri: str, version: str, mode: str, artifacts: Path, armed_by: Path | None = None
) -> str:
    """A new version that wraps ``version``'s pipeline and misbehaves as ``mode`` says
    (``raise`` and ``slow`` only while the file ``armed_by`` exists)."""
    registry.use_registry(tracking_uri)
    base = mlflow.pyfunc.load_model(f"models:/{NAME}/{version}").unwrap_python_model()
    experiment = registry.ensure_experiment("sabotaged", tracking_uri, artifacts)
    with (
        tempfile.TemporaryDirectory() as scratch,
        mlflow.start_run(experiment_id=experiment) as run,
    ):
        path = Path(scratch) / "pipeline.joblib"
        joblib.dump(base.pipeline, path)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(SABOTAGED),
            artifacts={PIPELINE_ARTIFACT: str(path)},
            model_config={"mode": mode, "armed_by": str(armed_by or "/nonexistent")},
            signature=signature_for(base.pipeline),
            input_example=example_input(),
            code_paths=[str(MODELS_PACKAGE)],
            pip_requirements=pip_requirements(),
        )
    return registry.register_version(NAME, info.model_uri, run.info.run_id, tracking_uri)

"""The MLflow model registry: where model versions live and which one an alias points at.

Works the same with a SQLite registry (the default ``Settings.registry_uri``) and with a
tracking server URI; every function takes the URI from its caller, which read the settings
once. Serving calls::

    ref = resolve_alias(settings.model_name, settings.model_alias, settings.registry_uri)
    model = load_model(ref.name, ref.version, settings.registry_uri)
    probabilities = model.predict_proba(frame)  # frame has MODEL_INPUT_COLUMNS

The model is loaded by version, not by alias, so an alias moving between the two calls
cannot make ``ref`` describe a different model than the one loaded.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import mlflow
import numpy as np
import pandas as pd
import structlog
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from models.pyfunc_model import example_input
from schemas import OUTCOMES, ModelRef
from schemas.features import ModelInput

log = structlog.get_logger(__name__)

CHAMPION: Final = "champion"
CHALLENGER: Final = "challenger"
# Backends whose default artifact root is ./mlruns under the current directory: for these the
# experiment must name its artifact location, or artifacts land wherever the process ran.
_LOCAL_SCHEMES: Final = frozenset({"", "file", "sqlite", "postgresql", "mysql", "mssql"})


class RegistryError(Exception):
    """A registry lookup or load failed; ``str()`` is one readable line."""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _quiet_mlflow() -> None:
    # MLflow and alembic log every migration and registration at INFO; the CLI's own progress
    # lines say what matters.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _prepare_local_store(uri: str) -> None:
    parts = urlsplit(uri)
    if parts.scheme == "sqlite" and uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)


def use_registry(tracking_uri: str) -> str:
    """Point this process's MLflow tracking and registry at ``tracking_uri``; returns it."""
    _quiet_mlflow()
    _prepare_local_store(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return tracking_uri


def client(tracking_uri: str) -> MlflowClient:
    """A client for the registry at ``tracking_uri``."""
    _quiet_mlflow()
    _prepare_local_store(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def ensure_experiment(name: str, tracking_uri: str, artifacts_dir: Path | None) -> str:
    """The id of experiment ``name``, created with its artifacts under ``artifacts_dir``.

    For a local backend (SQLite, file, a database) the artifact location is set explicitly so
    nothing lands in ``./mlruns``; a tracking server chooses its own artifact store.
    """
    mlflow_client = client(tracking_uri)
    location = None
    scheme = urlsplit(tracking_uri).scheme
    if artifacts_dir is not None and scheme in _LOCAL_SCHEMES:
        artifacts_dir.mkdir(parents=True, exist_ok=True)
        location = artifacts_dir.resolve().as_uri()
    existing = mlflow_client.get_experiment_by_name(name)
    if existing is None:
        return mlflow_client.create_experiment(name, artifact_location=location)
    if location is not None and not existing.artifact_location.startswith(location):
        # An experiment made elsewhere keeps its location: moving it would orphan old runs.
        log.warning(
            "experiment_artifacts_elsewhere",
            experiment=name,
            artifact_location=existing.artifact_location,
            expected=location,
        )
    return existing.experiment_id


def register_version(name: str, model_uri: str, run_id: str, tracking_uri: str) -> str:
    """Register the logged model at ``model_uri`` as a new version of ``name``; returns it.

    Through the client rather than ``mlflow.register_model``, which prints to stderr.
    """
    mlflow_client = client(tracking_uri)
    try:
        mlflow_client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code not in {"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"}:
            raise
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    created = mlflow_client.create_model_version(
        name, source=model_uri, run_id=run_id, model_id=model_id
    )
    return str(created.version)


def copy_version(name: str, version: str, tracking_uri: str) -> str:
    """Register the model of ``version`` again, as a new version (same artifacts, so the
    same predictions): a baseline challenger, or a way to re-point an alias at a known
    model with a fresh version number."""
    use_registry(tracking_uri)  # the store looks the logged model up through the default
    held = client(tracking_uri).get_model_version(name, version)
    return register_version(name, held.source, held.run_id, tracking_uri)


def resolve_alias(name: str, alias: str, tracking_uri: str) -> ModelRef:
    """The version ``alias`` points at; :class:`RegistryError` if none does."""
    try:
        version = client(tracking_uri).get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        raise RegistryError(
            f"no version of model {name!r} has alias {alias!r} "
            f"in {tracking_uri} (train one: python -m models train --synthetic 3000)"
        ) from exc
    return ModelRef(name=name, version=str(version.version), alias=alias, run_id=version.run_id)


def alias_version(name: str, alias: str, tracking_uri: str) -> str | None:
    """The version ``alias`` points at, or None."""
    try:
        return resolve_alias(name, alias, tracking_uri).version
    except RegistryError:
        return None


def set_alias(name: str, alias: str, version: str, tracking_uri: str) -> None:
    """Point ``alias`` at ``version`` (moving it if it pointed elsewhere)."""
    client(tracking_uri).set_registered_model_alias(name, alias, version)


def version_exists(name: str, version: str, tracking_uri: str) -> bool:
    """Whether ``version`` of ``name`` is registered."""
    try:
        client(tracking_uri).get_model_version(name, version)
    except MlflowException:
        return False
    return True


def tag_version(name: str, version: str, tags: dict[str, str], tracking_uri: str) -> None:
    """Set each of ``tags`` on the version (overwriting tags of the same key)."""
    mlflow_client = client(tracking_uri)
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(name, version, key, value)


def version_tags(name: str, version: str, tracking_uri: str) -> dict[str, str]:
    return dict(client(tracking_uri).get_model_version(name, version).tags)


class LoadedModel:
    """A loaded registry version: ``predict`` gives a frame, ``predict_proba`` an array."""

    def __init__(self, pyfunc: mlflow.pyfunc.PyFuncModel) -> None:
        self.pyfunc = pyfunc
        # The hot path calls the model's own predict, which coerces and checks its input
        # (coerce_model_input) itself; MLflow's signature enforcement around it costs
        # more than the model on a micro-batch, so it runs once, in load_model.
        self._python_model = pyfunc.unwrap_python_model()

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Columns ``OUTCOMES`` (home, draw, away), one row per input row, rows sum to 1."""
        result = self._python_model.predict(None, frame)
        return result[list(OUTCOMES)]

    def predict_input(self, inputs: ModelInput) -> np.ndarray:
        """:meth:`predict_proba` of rows given as arrays: straight through the model's
        own ``predict_input`` when it has one (versions logged since it was added), else
        through the frame."""
        direct = getattr(self._python_model, "predict_input", None)
        if direct is not None:
            return np.asarray(direct(inputs), dtype=np.float64)
        return self.predict_proba(inputs.frame())

    def predict_with_goals(self, inputs: ModelInput) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`predict_input`, and each side's expected goals still to come (N, 2) when
        the version forecasts goals (logged since goal ratings were added), else None."""
        direct = getattr(self._python_model, "predict_with_goals", None)
        if direct is None:
            return self.predict_input(inputs), None
        proba, to_come = direct(inputs)
        return np.asarray(proba, dtype=np.float64), np.asarray(to_come, dtype=np.float64)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """(N, 3) float array in the order of ``OUTCOMES``.

        Straight from the model's own ``predict_proba`` when it has one (versions logged
        since it was added): no output frame to build and take apart on the hot path.
        """
        direct = getattr(self._python_model, "predict_proba", None)
        if direct is not None:
            return np.asarray(direct(frame), dtype=np.float64)
        return self.predict(frame).to_numpy(dtype=np.float64)


def load_model(name: str, version: str, tracking_uri: str) -> LoadedModel:
    """Load exactly ``version`` of ``name``; :class:`RegistryError` if it fails."""
    use_registry(tracking_uri)
    try:
        pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    except (MlflowException, OSError) as exc:
        raise RegistryError(f"cannot load {name} version {version}: {_one_line(exc)}") from exc
    try:
        # Once per load, through MLflow's signature enforcement: a version whose logged
        # signature disagrees with the serving columns fails here, not on live events.
        pyfunc.predict(example_input())
    except Exception as exc:
        raise RegistryError(
            f"{name} version {version} rejects the serving input: {_one_line(exc)}"
        ) from exc
    return LoadedModel(pyfunc)

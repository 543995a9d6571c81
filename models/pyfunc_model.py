"""The registered model as an MLflow pyfunc: a frame of ``MODEL_INPUT_COLUMNS`` in, a frame
of ``OUTCOMES`` probabilities out.

The pyfunc wraps the whole sklearn pipeline (:mod:`models.pipeline`), so the registry holds
preprocessing and classifier together. It is logged the way MLflow recommends ("models from
code"): :mod:`models.pyfunc_entry` builds the pyfunc, the fitted pipeline is an artifact, and
the ``models`` package is logged as code so the artifact also loads outside this repository.
"""

from __future__ import annotations

import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Final

import joblib
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from sklearn.pipeline import Pipeline

from models.pipeline import NUMERIC_INPUT, DerivedFeatures, derive_from, numeric_block
from schemas import OUTCOMES
from schemas.features import (
    MODEL_INPUT_COLUMNS,
    NEW_TEAM_FEATURES,
    STATE_COLUMNS,
    TEAM_FEATURE_COLUMNS,
    ModelInput,
    model_frame,
)

_PACKAGE_DIR: Final = Path(__file__).resolve().parent
_ENTRY_FILE: Final = _PACKAGE_DIR / "pyfunc_entry.py"
PIPELINE_ARTIFACT: Final = "pipeline"
_REQUIREMENTS: Final = ("mlflow", "scikit-learn", "scipy", "pandas", "numpy", "pydantic", "joblib")
#: Extra output columns of models that also forecast goals: each side's expected goals
#: still to come in the match (Poisson means).
GOALS_TO_COME: Final = ("home_goals_to_come", "away_goals_to_come")


def _fill_value(column: str) -> float:
    # A missing team feature is what an unseen team gets; a missing state value means "none yet".
    for side in ("home_", "away_"):
        if column.startswith(side) and column[len(side) :] in NEW_TEAM_FEATURES:
            return NEW_TEAM_FEATURES[column[len(side) :]]
    return 0.0


_FILL: Final = np.array([_fill_value(c) for c in NUMERIC_INPUT])


def coerced_arrays(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The numeric input block (float64, ``NUMERIC_INPUT`` order, missing values filled
    with the new-team and no-state defaults) and the tournament names (strings).

    Raises ``ValueError`` naming any missing column, or for text in a numeric column.
    """
    missing = [c for c in MODEL_INPUT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"model input lacks column(s) {', '.join(missing)}")
    numbers = numeric_block(frame, errors="raise")
    numbers = np.where(np.isnan(numbers), _FILL, numbers)
    names = frame["tournament"]
    return numbers, np.where(names.isna(), "", names.astype(str)).astype(object)


def coerce_model_input(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the model's exact input: ``MODEL_INPUT_COLUMNS`` in order, numbers as
    float64 (ints and bools too: the signature says double), the tournament as a string.

    Raises ``ValueError`` naming any missing column. Extra columns are dropped.
    """
    numbers, tournament = coerced_arrays(frame)
    columns: dict[str, np.ndarray] = dict(zip(NUMERIC_INPUT, numbers.T, strict=True))
    columns["tournament"] = tournament
    return pd.DataFrame({c: columns[c] for c in MODEL_INPUT_COLUMNS}, index=frame.index)


class SoccerOutcomeModel(mlflow.pyfunc.PythonModel):
    """Home/draw/away probabilities for pre-match and in-play rows."""

    def __init__(self, pipeline: Pipeline | None = None) -> None:
        # None when MLflow builds it from code; load_context then reads the artifact.
        self.pipeline = pipeline

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.pipeline = joblib.load(context.artifacts[PIPELINE_ARTIFACT])

    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext | None,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        if not self._standard_shape():  # another pipeline shape: outcomes only
            proba = self.predict_proba(model_input)
            return pd.DataFrame(proba, columns=list(OUTCOMES), index=model_input.index)
        proba, to_come = self.predict_with_goals(ModelInput(*coerced_arrays(model_input)))
        frame = pd.DataFrame(proba, columns=list(OUTCOMES), index=model_input.index)
        for i, column in enumerate(GOALS_TO_COME):
            frame[column] = to_come[:, i]
        return frame

    def _standard_shape(self) -> bool:
        if self.pipeline is None:
            raise RuntimeError("model used before its pipeline was loaded")
        return len(self.pipeline) == 2 and isinstance(self.pipeline[0], DerivedFeatures)

    def _classify_with_goals(
        self, numbers: np.ndarray, tournament: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        assert self.pipeline is not None  # callers checked _standard_shape
        proba, to_come = self.pipeline[-1].predict_with_goals(derive_from(numbers, tournament))
        return proba / proba.sum(axis=1, keepdims=True), to_come

    def predict_with_goals(self, inputs: ModelInput) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) probabilities (as :meth:`predict_input`) and (N, 2) each side's expected
        goals still to come, from one pass over the rows: what serving calls.

        Raises ``TypeError`` for a pipeline of another shape (it cannot forecast goals)."""
        if not self._standard_shape():
            raise TypeError("this pipeline forecasts outcomes only")
        numbers = np.where(np.isnan(inputs.numbers), _FILL, inputs.numbers)
        return self._classify_with_goals(numbers, inputs.tournament)

    def predict_input(self, inputs: ModelInput) -> np.ndarray:
        """:meth:`predict_proba` of the same rows given as arrays (``schemas.features``):
        the serving hot path, with no frame built and taken apart on a micro-batch."""
        if self.pipeline is None:
            raise RuntimeError("model used before its pipeline was loaded")
        derive, classify = self.pipeline[0], self.pipeline[-1]
        if len(self.pipeline) != 2 or not isinstance(derive, DerivedFeatures):
            return self.predict_proba(inputs.frame())  # another pipeline shape: generic
        numbers = np.where(np.isnan(inputs.numbers), _FILL, inputs.numbers)
        proba = classify.predict_proba(derive_from(numbers, inputs.tournament))
        return proba / proba.sum(axis=1, keepdims=True)

    def predict_proba(self, model_input: pd.DataFrame) -> np.ndarray:
        """(N, 3) probabilities in the order of ``OUTCOMES``, for a frame.

        The pipeline's steps are called on arrays directly: sklearn's Pipeline validates and
        wraps every call, which costs more than the model on a serving micro-batch. The
        tests hold this equal to ``pipeline.predict_proba`` on the coerced frame.
        """
        if self.pipeline is None:
            raise RuntimeError("model used before its pipeline was loaded")
        derive, classify = self.pipeline[0], self.pipeline[-1]
        if len(self.pipeline) == 2 and isinstance(derive, DerivedFeatures):
            proba = classify.predict_proba(derive_from(*coerced_arrays(model_input)))
        else:  # another pipeline shape: the generic path
            proba = self.pipeline.predict_proba(coerce_model_input(model_input))
        # Renormalise so rows sum to 1 within float error whatever the classifier returns.
        return proba / proba.sum(axis=1, keepdims=True)


def example_input() -> pd.DataFrame:
    """A two-row input: a pre-match request and a live state (also the logged example)."""
    home = {**NEW_TEAM_FEATURES, "elo": 1850.0}
    away = {**NEW_TEAM_FEATURES, "elo": 1700.0}
    row = ([home[c] for c in TEAM_FEATURE_COLUMNS], [away[c] for c in TEAM_FEATURE_COLUMNS])
    live = dict.fromkeys(STATE_COLUMNS, 0.0) | {"minute": 60.0, "away_goals": 1.0}
    return model_frame(
        [row[0], row[0]],
        [row[1], row[1]],
        [False, False],
        ["FIFA World Cup qualification"] * 2,
        [[0.0] * len(STATE_COLUMNS), [live[c] for c in STATE_COLUMNS]],
    )


def signature_for(pipeline: Pipeline) -> ModelSignature:
    """Input: MODEL_INPUT_COLUMNS (double, tournament string); output: OUTCOMES (double)."""
    x = example_input()
    return infer_signature(x, SoccerOutcomeModel(pipeline).predict(None, x))


def pip_requirements() -> list[str]:
    """Pinned to the training environment, so a loader can rebuild it exactly."""
    pins = []
    for package in _REQUIREMENTS:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            pins.append(package)
    return pins


def log_pyfunc(pipeline: Pipeline) -> mlflow.models.model.ModelInfo:
    """Log ``pipeline`` as the pyfunc ``model`` of the active run (registering is separate)."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "pipeline.joblib"
        joblib.dump(pipeline, path)
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(_ENTRY_FILE),
            artifacts={PIPELINE_ARTIFACT: str(path)},
            signature=signature_for(pipeline),
            input_example=example_input(),
            code_paths=[str(_PACKAGE_DIR)],
            pip_requirements=pip_requirements(),
        )

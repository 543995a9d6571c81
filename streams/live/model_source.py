"""Where serving models come from: the MLflow registry, through ``models.registry``."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from schemas import ModelRef
from schemas.features import ModelInput


class Predictor(Protocol):
    """What serving needs of a loaded model (it may also have ``predict_input``, the same
    on arrays: see :func:`predict`)."""

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """(N, 3) probabilities of home, draw, away for N input rows."""
        ...


def predict(predictor: Predictor, inputs: ModelInput) -> np.ndarray:
    """``predictor``'s probabilities for ``inputs``: on the arrays when it takes them
    (``models.registry.LoadedModel.predict_input``), else on their frame."""
    direct = getattr(predictor, "predict_input", None)
    if direct is not None:
        return np.asarray(direct(inputs))
    return np.asarray(predictor.predict_proba(inputs.frame()))


def predict_with_goals(
    predictor: Predictor, inputs: ModelInput
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`predict`, and each side's expected goals still to come (N, 2) when the
    predictor forecasts goals (``models.registry.LoadedModel.predict_with_goals``), else
    None: one pass over the rows either way."""
    both = getattr(predictor, "predict_with_goals", None)
    if both is not None:
        probabilities, to_come = both(inputs)
        return np.asarray(probabilities), None if to_come is None else np.asarray(to_come)
    return predict(predictor, inputs), None


class ModelSource(Protocol):
    """Resolves an alias to an exact version and loads a version (both block: run them in
    a thread)."""

    def resolve(self, alias: str) -> ModelRef: ...

    def load(self, ref: ModelRef) -> Predictor: ...


class RegistrySource:
    """``models:/{name}@{alias}`` in the MLflow registry at ``tracking_uri``.

    A version is loaded by number, not by alias, so an alias moving between the resolve and
    the load cannot make the reference describe another model than the one loaded.
    """

    def __init__(self, model_name: str, tracking_uri: str) -> None:
        self.model_name = model_name
        self.tracking_uri = tracking_uri

    def resolve(self, alias: str) -> ModelRef:
        from models import registry  # mlflow is heavy: imported where it is used

        return registry.resolve_alias(self.model_name, alias, self.tracking_uri)

    def load(self, ref: ModelRef) -> Predictor:
        from models import registry

        return registry.load_model(ref.name, ref.version, self.tracking_uri)

"""A registry model that misbehaves on purpose, for the tests of challengers and promotion.

MLflow runs this file when the model is logged and loaded ("models from code", as
``models/pyfunc_entry.py``). It wraps the real pipeline and, by ``model_config["mode"]``:

- ``mirror``: swaps the home and away probabilities (a clearly worse forecaster);
- ``raise``: fails every call;
- ``slow``: sleeps ``SLOW_SECONDS`` in every call;
- ``hang``: blocks every call of more than ``INLINE_ROWS`` rows while armed (a model stuck
  in native code, say), returning once the file is gone. Those calls run in a thread
  (streams.flow.predict); a call on the event loop would block the loop itself, which is
  the liveness probe's case, not the stall watchdog's.

``raise``, ``slow`` and ``hang`` misbehave only while the file ``model_config["armed_by"]`` exists:
the version loads and warms up like any other, and the test arms it once it serves.
"""

from __future__ import annotations

import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import set_model

from models.pyfunc_model import SoccerOutcomeModel
from schemas.features import ModelInput
from streams.flow.predict import INLINE_ROWS

SLOW_SECONDS = 2.0


class SabotagedModel(SoccerOutcomeModel):
    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        super().load_context(context)
        self.mode = str(context.model_config["mode"])
        self.armed_by = Path(str(context.model_config.get("armed_by", "/nonexistent")))

    def _misbehave(self, rows: int) -> None:
        if self.armed_by.exists():
            if self.mode == "raise":
                raise RuntimeError("sabotaged model: raises on purpose")
            if self.mode == "slow":
                time.sleep(SLOW_SECONDS)
            while self.mode == "hang" and rows > INLINE_ROWS and self.armed_by.exists():
                time.sleep(0.05)

    def _mirrored(self, proba: np.ndarray) -> np.ndarray:
        if self.mode == "mirror":
            return proba[:, ::-1].copy()  # OUTCOMES is (home, draw, away)
        return proba

    # Serving calls predict_with_goals (models.registry.LoadedModel; the base class's
    # predict goes through it too), older callers predict_input, a frame's caller
    # predict_proba: all misbehave.
    def predict_with_goals(self, inputs: ModelInput) -> tuple[np.ndarray, np.ndarray]:
        self._misbehave(len(inputs))
        proba, to_come = super().predict_with_goals(inputs)
        return self._mirrored(proba), to_come[:, ::-1].copy() if self.mode == "mirror" else to_come

    def predict_input(self, inputs: ModelInput) -> np.ndarray:
        self._misbehave(len(inputs))
        return self._mirrored(super().predict_input(inputs))

    def predict_proba(self, model_input: pd.DataFrame) -> np.ndarray:
        self._misbehave(len(model_input))
        return self._mirrored(super().predict_proba(model_input))


set_model(SabotagedModel())

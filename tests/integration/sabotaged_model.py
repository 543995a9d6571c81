"""A registry model that misbehaves on purpose, for the tests of challengers and promotion.

MLflow runs this file when the model is logged and loaded ("models from code", as
``models/pyfunc_entry.py``). It wraps the real pipeline and, by ``model_config["mode"]``:

- ``mirror``: swaps the home and away probabilities (a clearly worse forecaster);
- ``raise``: fails every call;
- ``slow``: sleeps ``SLOW_SECONDS`` in every call.

``raise`` and ``slow`` misbehave only while the file ``model_config["armed_by"]`` exists:
the version loads and warms up like any other, and the test arms it once it serves.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import set_model

from models.pyfunc_model import SoccerOutcomeModel

SLOW_SECONDS = 2.0


class SabotagedModel(SoccerOutcomeModel):
    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        super().load_context(context)
        self.mode = str(context.model_config["mode"])
        self.armed_by = Path(str(context.model_config.get("armed_by", "/nonexistent")))

    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext | None,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        armed = self.armed_by.exists()
        if armed and self.mode == "raise":
            raise RuntimeError("sabotaged model: raises on purpose")
        if armed and self.mode == "slow":
            time.sleep(SLOW_SECONDS)
        out = super().predict(context, model_input, params)
        if self.mode == "mirror":
            out = out.rename(columns={"home": "away", "away": "home"})[list(out.columns)]
        return out


set_model(SabotagedModel())

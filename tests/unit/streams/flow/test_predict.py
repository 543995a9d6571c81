"""One predict per batch, with poison rows isolated."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd

from schemas.features import NEW_TEAM, ModelInput, model_rows
from streams.flow.predict import infer
from streams.metrics import Metrics


class PoisonOnMinute:
    """Scores every row but raises for any batch holding a row at minute 99."""

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if (frame["minute"] == 99).any():
            raise ValueError("poison row")
        return np.tile([0.5, 0.3, 0.2], (len(frame), 1))


def rows_at(*minutes: int) -> ModelInput:
    """Pre-match rows between new teams, at the given minutes."""
    n = len(minutes)
    states = [[m, 0, 0, 0, 0] for m in minutes]
    return model_rows([NEW_TEAM] * n, [NEW_TEAM] * n, [False] * n, ["Friendly"] * n, states)


def test_one_poison_row_fails_alone() -> None:
    results = asyncio.run(infer(PoisonOnMinute(), rows_at(1, 99, 3), Metrics()))
    assert isinstance(results[1], ValueError)
    assert [r.tolist() for i, r in enumerate(results) if i != 1] == [[0.5, 0.3, 0.2]] * 2


def test_wrong_output_shape_is_an_error() -> None:
    class TwoColumns:
        def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
            return np.ones((len(frame), 2)) / 2

    results = asyncio.run(infer(TwoColumns(), rows_at(1), Metrics()))
    assert isinstance(results[0], ValueError)

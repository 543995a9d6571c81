"""The model's fast paths equal sklearn's own computation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models.pipeline import derive_features, linear_proba
from models.pyfunc_model import SoccerOutcomeModel, coerce_model_input
from models.synthetic import generate_matches
from models.training import build_dataset, fit_model
from schemas.features import NUMERIC_INPUT_COLUMNS, ModelInput


@pytest.fixture(scope="module")
def fitted() -> tuple[SoccerOutcomeModel, pd.DataFrame]:
    data = generate_matches(1200, seed=5)
    dataset = build_dataset(data, dt.date(2002, 6, 1))
    return SoccerOutcomeModel(fit_model(dataset.train_rows)), dataset.holdout_rows


def test_linear_proba_equals_sklearn(fitted: tuple[SoccerOutcomeModel, pd.DataFrame]) -> None:
    model, rows = fitted
    classify = model.pipeline[-1]
    x = derive_features(coerce_model_input(rows))
    parts = ((classify.prematch_, x[:, :13]), (classify.inplay_, classify._inplay_features(x)))
    for part, inputs in parts:
        np.testing.assert_allclose(
            linear_proba(part, inputs), part.predict_proba(inputs), rtol=0, atol=1e-12
        )


def test_predict_proba_equals_the_sklearn_pipeline(
    fitted: tuple[SoccerOutcomeModel, pd.DataFrame],
) -> None:
    model, rows = fitted
    generic = model.pipeline.predict_proba(coerce_model_input(rows))
    generic = generic / generic.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(rows), generic, rtol=0, atol=1e-12)
    single = rows.iloc[[3]]
    np.testing.assert_allclose(model.predict_proba(single), generic[[3]], rtol=0, atol=1e-12)
    assert list(model.predict(None, rows).columns) == ["home", "draw", "away"]


def test_predict_input_equals_the_sklearn_pipeline_on_the_same_rows(
    fitted: tuple[SoccerOutcomeModel, pd.DataFrame],
) -> None:
    """The serving path (arrays, no frame) against sklearn's pipeline on the frame."""
    model, rows = fitted
    frame = coerce_model_input(rows)
    inputs = ModelInput(
        frame[list(NUMERIC_INPUT_COLUMNS)].to_numpy(np.float64),
        frame["tournament"].to_numpy(object),
    )
    generic = model.pipeline.predict_proba(frame)
    generic = generic / generic.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict_input(inputs), generic, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        model.predict_input(inputs.take([3])), generic[[3]], rtol=0, atol=1e-12
    )
    pd.testing.assert_frame_equal(inputs.frame(), frame.reset_index(drop=True))


def test_text_in_a_numeric_column_is_refused(
    fitted: tuple[SoccerOutcomeModel, pd.DataFrame],
) -> None:
    model, rows = fitted
    broken = rows.head(2).astype({"home_elo": object})
    broken.loc[broken.index[0], "home_elo"] = "strong"
    with pytest.raises(ValueError):
        model.predict_proba(broken)

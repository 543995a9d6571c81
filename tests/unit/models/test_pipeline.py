"""The model's fast paths equal sklearn's own computation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models.pipeline import PREMATCH_FEATURES, derive_features, linear_proba
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
    pre = x[:, : len(PREMATCH_FEATURES)]
    parts = ((classify.prematch_, pre), (classify.inplay_, classify._inplay_features(x)[0]))
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
    assert list(model.predict(None, rows).columns) == [
        "home",
        "draw",
        "away",
        "home_goals_to_come",
        "away_goals_to_come",
    ]


def test_goals_to_come_shrink_with_the_clock_and_come_with_the_same_probabilities(
    fitted: tuple[SoccerOutcomeModel, pd.DataFrame],
) -> None:
    model, rows = fitted
    frame = coerce_model_input(rows.iloc[:20])
    at = {m: frame.assign(minute=float(m), home_goals=0.0, away_goals=0.0) for m in (0, 45, 90)}
    inputs = {
        m: ModelInput(
            f[list(NUMERIC_INPUT_COLUMNS)].to_numpy(np.float64), f["tournament"].to_numpy(object)
        )
        for m, f in at.items()
    }
    proba, kickoff = model.predict_with_goals(inputs[0])
    np.testing.assert_allclose(proba, model.predict_input(inputs[0]), rtol=0, atol=1e-12)
    # The same teams at 0-0: half the match left is half the goals to come, none at 90.
    np.testing.assert_allclose(model.predict_with_goals(inputs[45])[1], kickoff / 2, rtol=1e-12)
    assert (model.predict_with_goals(inputs[90])[1] == 0).all()
    assert (kickoff > 0.2).all() and (kickoff < 5).all()


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

"""The one-event-at-a-time path the Quix Streams and Celery designs run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from bench.serving import OneByOne
from schemas import ModelRef, Prediction
from tests.factories import livescore, ratings_of


class Constant:
    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.tile([0.6, 0.3, 0.1], (len(frame), 1))


def test_one_livescore_gives_one_prediction_record() -> None:
    ref = ModelRef(name="soccer_clf", version="3", alias="champion", run_id=None)
    serving = OneByOne(ref=ref, predictor=Constant(), ratings=ratings_of())
    value = livescore(match_id="m1", seq=4).model_dump_json().encode()
    out = Prediction.model_validate_json(serving.predict(b"m1", value))
    assert (out.match_id, out.seq, out.model.version, out.predicted) == ("m1", 4, "3", "home")
    assert out.features_version == "v-test+0"
    assert json.loads(serving.predict(b"m1", value))["probabilities"]["home"] == 0.6

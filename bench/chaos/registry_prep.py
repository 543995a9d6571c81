"""The two model versions and the feature snapshot both chaos runs serve.

Version 1 (``champion`` at the start of each run) is fitted on every match before the
season; version 2 (``challenger``, in shadow, and the champion after the chaos run's alias
move) on every match more than a year before it: two real, different models, so a
prediction names the version that made it and the scores of each differ.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import mlflow
import pandas as pd

from models.data import MatchData
from models.feature_tables import export_feature_tables
from models.features import compute_features
from models.pyfunc_model import log_pyfunc
from models.registry import ensure_experiment, register_version, set_alias, use_registry
from models.training import build_dataset, fit_model

MODEL_NAME = "soccer_clf"
#: The second version stops learning this much earlier.
EARLIER_BY = dt.timedelta(days=365)


def prepare_registry(
    data: MatchData,
    season_from: dt.date,
    tracking_uri: str,
    features_dir: Path,
    progress: Callable[[str], None],
) -> tuple[str, str]:
    """Register both versions and write the snapshot of the results before the season;
    the two version numbers."""
    use_registry(tracking_uri)
    experiment = ensure_experiment("chaos", tracking_uri, None)
    versions = []
    for n, cut in enumerate((season_from, season_from - EARLIER_BY), 1):
        progress(f"fitting version {n} on the matches before {cut}")
        model = fit_model(build_dataset(data, cut).train_rows)
        with mlflow.start_run(experiment_id=experiment) as run:
            info = log_pyfunc(model)
            versions.append(
                register_version(MODEL_NAME, info.model_uri, run.info.run_id, tracking_uri)
            )
    before = data.results[data.results["date"] < pd.Timestamp(season_from)]
    export_feature_tables(compute_features(before), features_dir)
    return versions[0], versions[1]


def reset_aliases(tracking_uri: str, first: str, second: str) -> None:
    """Each run starts alike: ``first`` the champion, ``second`` the challenger."""
    set_alias(MODEL_NAME, "champion", first, tracking_uri)
    set_alias(MODEL_NAME, "challenger", second, tracking_uri)


def move_champion(tracking_uri: str, first: str, second: str) -> None:
    """The alias move: ``second`` becomes the champion; the challenger alias follows the
    version it replaced, which keeps being scored in shadow."""
    set_alias(MODEL_NAME, "champion", second, tracking_uri)
    set_alias(MODEL_NAME, "challenger", first, tracking_uri)

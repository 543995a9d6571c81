"""Train -> register -> resolve the alias -> load -> predict, and the promotion gate.

Each module gets its own SQLite registry and artifact folder under tmp_path, and runs in a
scratch working directory so a stray ``./mlruns`` would be caught. No Kafka, no Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from models.data import MatchData
from models.feature_tables import model_input, read_feature_tables
from models.features import LABEL_COLUMN
from models.promotion import promote
from models.pyfunc_model import GOALS_TO_COME, log_pyfunc
from models.registry import (
    RegistryError,
    alias_version,
    client,
    ensure_experiment,
    load_model,
    register_version,
    resolve_alias,
    use_registry,
)
from models.run import TrainResult, train_and_register
from models.synthetic import generate_matches
from models.training import Dataset, build_dataset, fit_model
from schemas import OUTCOMES, ModelRef
from schemas.features import MODEL_INPUT_COLUMNS

NAME = "soccer_clf"


@dataclass(frozen=True)
class Registry:
    uri: str
    artifacts: Path
    features: Path
    workdir: Path


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    root = tmp_path_factory.mktemp("registry")
    workdir = root / "cwd"
    workdir.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)
        yield Registry(
            uri=f"sqlite:///{root / 'mlflow.db'}",
            artifacts=root / "artifacts",
            features=root / "features",
            workdir=workdir,
        )


@pytest.fixture(scope="module")
def data() -> MatchData:
    return generate_matches(1200, seed=5)


@pytest.fixture(scope="module")
def trained(registry: Registry, data: MatchData) -> TrainResult:
    return train_and_register(
        data,
        model_name=NAME,
        tracking_uri=registry.uri,
        artifacts_dir=registry.artifacts,
        features_dir=registry.features,
        source="synthetic:1200:5",
    )


@pytest.fixture(scope="module")
def dataset(data: MatchData) -> Dataset:
    return build_dataset(data)


def test_first_version_becomes_champion_and_loads_back(
    registry: Registry, trained: TrainResult, dataset: Dataset
) -> None:
    assert trained.version == "1"
    assert trained.promotion.decision == "champion"
    assert trained.promotion.reason.startswith("first version")

    ref = resolve_alias(NAME, "champion", registry.uri)
    assert ref == ModelRef(name=NAME, version="1", alias="champion", run_id=trained.run_id)
    model = load_model(ref.name, ref.version, registry.uri)

    holdout = dataset.holdout_rows
    proba = model.predict_proba(holdout)
    assert proba.shape == (len(holdout), len(OUTCOMES))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    # The registry holds exactly the pipeline that was trained: same probabilities.
    in_memory = fit_model(dataset.train_rows).predict_proba(holdout[list(MODEL_INPUT_COLUMNS)])
    np.testing.assert_allclose(proba, in_memory, atol=1e-9)

    frame = model.predict(holdout.iloc[:3])
    assert list(frame.columns) == list(OUTCOMES)


def test_serving_style_input_from_the_feature_tables(
    registry: Registry, trained: TrainResult
) -> None:
    tables = read_feature_tables(registry.features)
    assert tables.manifest.features_version == trained.features_version
    assert tables.teams.index.name == "team" and tables.matches.index.name == "match_id"

    fixtures = tables.matches.tail(500).reset_index()
    fixtures["minute"] = np.arange(len(fixtures)) % 91  # ints, as a decoder would give them
    fixtures["home_goals"] = np.arange(len(fixtures)) % 3
    rows = model_input(tables.teams, fixtures)
    rows["neutral"] = rows["neutral"].astype(int)  # ints are accepted, not only floats

    ref = resolve_alias(NAME, "champion", registry.uri)
    model = load_model(ref.name, ref.version, registry.uri)
    proba = model.predict_proba(rows)
    assert proba.shape == (500, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


def test_plain_mlflow_pyfunc_and_nothing_in_mlruns(
    registry: Registry, trained: TrainResult
) -> None:
    use_registry(registry.uri)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    example = pyfunc.input_example
    assert list(example.columns) == list(MODEL_INPUT_COLUMNS)
    out = pyfunc.predict(example)
    # Outcome probabilities, then each side's expected goals still to come.
    assert list(out.columns) == [*OUTCOMES, *GOALS_TO_COME]
    assert (out[list(GOALS_TO_COME)] >= 0).all().all()
    assert [i.name for i in pyfunc.metadata.get_input_schema().inputs] == list(MODEL_INPUT_COLUMNS)
    # Artifacts went to the configured folder, not ./mlruns of the working directory.
    assert not (registry.workdir / "mlruns").exists()
    assert any(registry.artifacts.rglob("MLmodel"))


def test_decision_is_tagged_on_the_version(registry: Registry, trained: TrainResult) -> None:
    tags = client(registry.uri).get_model_version(NAME, trained.version).tags
    assert tags["promotion.decision"] == "champion"
    assert float(tags["promotion.candidate_score"]) == pytest.approx(
        trained.promotion.candidate_score
    )


def test_missing_alias_is_a_readable_error(registry: Registry, trained: TrainResult) -> None:
    with pytest.raises(RegistryError, match="has alias 'nope'"):
        resolve_alias(NAME, "nope", registry.uri)
    with pytest.raises(RegistryError, match="cannot load"):
        load_model(NAME, "99", registry.uri)


def register(registry: Registry, name: str, rows: pd.DataFrame, shuffle: bool = False) -> str:
    if shuffle:  # a model that learned nothing real: the labels are permuted
        labels = np.random.default_rng(0).permutation(rows[LABEL_COLUMN].to_numpy())
        rows = rows.assign(**{LABEL_COLUMN: labels})
    pipeline = fit_model(rows)
    use_registry(registry.uri)
    experiment = ensure_experiment(name, registry.uri, registry.artifacts)
    with mlflow.start_run(experiment_id=experiment) as run:
        info = log_pyfunc(pipeline)
    return register_version(name, info.model_uri, run.info.run_id, registry.uri)


def test_gate_promotes_only_a_better_model(registry: Registry, dataset: Dataset) -> None:
    name = "gate_clf"
    train, holdout = dataset.train_rows, dataset.holdout_rows

    weak = register(registry, name, train, shuffle=True)
    first = promote(name, weak, holdout, registry.uri)
    assert first.decision == "champion" and first.champion_version is None

    good = register(registry, name, train)
    second = promote(name, good, holdout, registry.uri)
    assert second.decision == "champion"
    assert second.champion_version == weak
    assert second.candidate_score < second.champion_score

    worse = register(registry, name, train, shuffle=True)
    third = promote(name, worse, holdout, registry.uri)
    assert third.decision == "challenger"
    assert third.champion_version == good
    assert third.candidate_score >= third.champion_score
    assert alias_version(name, "champion", registry.uri) == good
    assert alias_version(name, "challenger", registry.uri) == worse
    tags = client(registry.uri).get_model_version(name, worse).tags
    assert tags["promotion.decision"] == "challenger"
    assert "does not beat" in tags["promotion.reason"]

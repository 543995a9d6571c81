"""Adapters from the MLflow registry (``models.registry``) to what the ModelServer needs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.feature_spec import MODEL_INPUT_COLUMNS, NEW_TEAM_FEATURES, TEAM_FEATURE_COLUMNS
from schemas import ModelRef
from streams.model_server import Loader, Predictor, Resolver
from streams.settings import Settings


def registry_resolver(settings: Settings) -> Resolver:
    """alias -> the exact version it points at now (raises when the registry is down)."""

    def resolve(alias: str) -> ModelRef:
        from models import registry  # mlflow is heavy: import it where it is used

        found = registry.resolve_alias(settings.model_name, alias, settings.registry_uri)
        return ModelRef(
            name=found.name, version=str(found.version), alias=alias, run_id=found.run_id
        )

    return resolve


def registry_loader(settings: Settings) -> Loader:
    def load(ref: ModelRef) -> Predictor:
        from models import registry

        exact = registry.ModelRef(
            name=ref.name, version=ref.version, alias=ref.alias, run_id=ref.run_id
        )
        return registry.load_model(exact, settings.registry_uri)

    return load


def warm_frame() -> pd.DataFrame:
    """A one-row pre-match input for two average new teams (used to warm a model)."""
    row: dict[str, object] = {}
    for side in ("home", "away"):
        for name in TEAM_FEATURE_COLUMNS:
            row[f"{side}_{name}"] = NEW_TEAM_FEATURES[name]
    row.update(
        neutral=1,
        tournament="Friendly",
        minute=0,
        home_goals=0,
        away_goals=0,
        home_red_cards=0,
        away_red_cards=0,
    )
    frame = pd.DataFrame([row])[list(MODEL_INPUT_COLUMNS)]
    return frame.astype(
        {
            c: np.int64
            for c in (
                "neutral",
                "minute",
                "home_goals",
                "away_goals",
                "home_red_cards",
                "away_red_cards",
            )
        }
    )

"""One training run end to end: features, fit, feature tables, MLflow run, registry, gate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import mlflow
from pydantic import BaseModel

from models.data import MatchData
from models.feature_tables import export_feature_tables
from models.features import LABEL_COLUMN
from models.promotion import METRIC, PromotionDecision, promote
from models.pyfunc_model import log_pyfunc
from models.registry import ensure_experiment, register_version, use_registry
from models.states import CHECKPOINTS
from models.training import Scores, build_dataset, fit_model, score
from schemas.features import MODEL_INPUT_COLUMNS


class TrainResult(BaseModel):
    """What a training run produced."""

    name: str
    version: str
    run_id: str
    features_version: str
    holdout_from: dt.date
    holdout: Scores  # all holdout rows: pre-match and in-play (the gate's metric)
    holdout_prematch: Scores
    promotion: PromotionDecision


def _silent(_: str) -> None:
    return None


def train_and_register(
    data: MatchData,
    *,
    model_name: str,
    tracking_uri: str,
    artifacts_dir: Path,
    features_dir: Path,
    holdout_from: dt.date | None = None,
    source: str = "",
    progress: Callable[[str], None] = _silent,
) -> TrainResult:
    """Train on matches before the holdout, register, gate, and export the feature tables.

    The registered model never saw the holdout, so the gate compares it fairly with the
    champion. The feature tables cover every match, so serving starts from current ratings.
    """
    progress(f"data: {len(data.results):,} matches, {len(data.goals):,} goals ({source})")
    dataset = build_dataset(data, holdout_from)
    train, holdout = dataset.train_rows, dataset.holdout_rows
    progress(
        f"features: {len(dataset.history.teams):,} teams; {len(train):,} training rows, "
        f"{len(holdout):,} holdout rows from {dataset.holdout_from.date()}"
    )
    model = fit_model(train)
    proba = model.predict_proba(holdout[list(MODEL_INPUT_COLUMNS)])
    labels = holdout[LABEL_COLUMN].to_numpy()
    pre = (holdout["row_kind"] == "pre").to_numpy()
    scores, scores_pre = score(proba, labels), score(proba[pre], labels[pre])
    progress(
        f"fitted: holdout log-loss {scores.log_loss:.4f} (pre-match {scores_pre.log_loss:.4f})"
    )

    manifest = export_feature_tables(dataset.history, features_dir)
    progress(f"feature tables: {features_dir} ({manifest.features_version})")

    use_registry(tracking_uri)
    experiment_id = ensure_experiment(model_name, tracking_uri, artifacts_dir)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_params(
            {
                "data_source": source or "in-memory",
                "holdout_from": dataset.holdout_from.date().isoformat(),
                "train_rows": len(train),
                "holdout_rows": len(holdout),
                "features_version": manifest.features_version,
            }
        )
        mlflow.log_metrics(
            {
                METRIC: scores.log_loss,
                "holdout_brier": scores.brier,
                "holdout_accuracy": scores.accuracy,
                "holdout_prematch_log_loss": scores_pre.log_loss,
                "holdout_prematch_brier": scores_pre.brier,
                "holdout_prematch_accuracy": scores_pre.accuracy,
            }
        )
        checkpoints = dataset.holdout_checkpoints
        if len(checkpoints):
            cp_proba = model.predict_proba(checkpoints[list(MODEL_INPUT_COLUMNS)])
            for minute in CHECKPOINTS:
                mask = (checkpoints["minute"] == minute).to_numpy()
                if mask.any():
                    minute_scores = score(
                        cp_proba[mask], checkpoints[LABEL_COLUMN].to_numpy()[mask]
                    )
                    mlflow.log_metric(f"inplay_log_loss_{minute:02d}", minute_scores.log_loss)
        info = log_pyfunc(model)
        version = register_version(model_name, info.model_uri, run.info.run_id, tracking_uri)
    progress(f"registered: {model_name} version {version} (run {run.info.run_id})")

    decision = promote(model_name, version, holdout, tracking_uri)
    progress(f"promotion: version {version} -> {decision.decision}: {decision.reason}")
    return TrainResult(
        name=model_name,
        version=version,
        run_id=run.info.run_id,
        features_version=manifest.features_version,
        holdout_from=dataset.holdout_from.date(),
        holdout=scores,
        holdout_prematch=scores_pre,
        promotion=decision,
    )

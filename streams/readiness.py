"""What /ready checks: Kafka, Redis, the model and the feature tables, with reasons."""

from __future__ import annotations

from streams.pipeline import Pipeline
from streams.stack.probes import kafka_answers_metadata


async def not_ready_reasons(pipeline: Pipeline) -> list[str]:
    """Empty when everything is usable; else one short reason per broken dependency."""
    reasons = []
    if not await kafka_answers_metadata(pipeline.settings.kafka_bootstrap_servers, within=2.0):
        reasons.append(
            f"kafka: no metadata answer from {pipeline.settings.kafka_bootstrap_servers}"
        )
    if (redis_down := await pipeline.latest.ping()) is not None:
        reasons.append(redis_down)
    if pipeline.latest.pending:
        reasons.append(f"redis: {len(pipeline.latest.pending)} predictions waiting to be written")
    if pipeline.models.current is None:
        detail = pipeline.models.last_error or "not loaded yet"
        reasons.append(
            f"model: no {pipeline.settings.model_name}@{pipeline.models.alias} ({detail})"
        )
    if pipeline.features.current is None:
        detail = pipeline.features.last_error or "not loaded yet"
        reasons.append(f"features: no snapshot in {pipeline.settings.features_dir} ({detail})")
    return reasons

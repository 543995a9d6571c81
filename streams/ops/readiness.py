"""What /ready checks: Kafka, Redis, the model, the feature tables and progress, with reasons.

Side-effect free: it asks the worker's own long-lived clients and changes nothing else in
the process (no logger levels, no new connections per probe).
"""

from __future__ import annotations

from streams.handle import WorkerHandle
from streams.polling import PollingService

KAFKA_PROBE_SECONDS = 2.0
#: How often ``soccer_ready`` is refreshed between /ready calls.
READY_GAUGE_SECONDS = 5.0


async def not_ready_reasons(worker: WorkerHandle) -> list[str]:
    """Empty when everything is usable; else one short reason per broken dependency."""
    reasons = []
    if (kafka_down := await worker.kafka.unreachable(KAFKA_PROBE_SECONDS)) is not None:
        reasons.append(kafka_down)
    if (redis_down := await worker.latest.ping()) is not None:
        reasons.append(redis_down)
    if worker.latest.pending:
        reasons.append(f"redis: {len(worker.latest.pending)} predictions waiting to be written")
    if worker.models.current is None:
        detail = worker.models.last_error or "not loaded yet"
        reasons.append(f"model: no {worker.settings.model_name}@{worker.models.alias} ({detail})")
    if worker.features.current is None:
        detail = worker.features.last_error or "not loaded yet"
        reasons.append(f"features: no snapshot in {worker.settings.features_dir} ({detail})")
    if worker.results is not None and not worker.results.caught_up.is_set():
        # The batches wait for these (streams.flow.batch): not ready is what they are.
        behind = worker.results.behind
        reasons.append(f"results: reading the results topic ({behind} behind) before answering")
    if worker.app.in_recovery:
        reasons.append("tables: recovering the match state from the changelogs")
    reasons += [stall.reason() for stall in worker.stalls.stalled]
    worker.metrics.ready.set(0 if reasons else 1)
    return reasons


class ReadyGauge(PollingService):
    """Keeps ``soccer_ready`` current when nothing calls /ready (alerts read it)."""

    def __init__(self, worker: WorkerHandle, interval: float = READY_GAUGE_SECONDS) -> None:
        super().__init__(interval)
        self.worker = worker

    async def poll(self) -> None:
        await not_ready_reasons(self.worker)

"""Every Prometheus metric of the service, defined once, in a registry owned by the app."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import generate_latest

# Event-to-prediction latency spans sub-millisecond (a warm batch) to seconds (a restart).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
INFERENCE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


class Metrics:
    """The metric objects, in a registry of their own (no process-global registry)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events_in = Counter(
            "soccer_events_in_total", "Input records read, by topic.", ["topic"], registry=r
        )
        self.predictions_out = Counter(
            "soccer_predictions_total",
            "Predictions published, by trigger.",
            ["trigger"],
            registry=r,
        )
        self.dead_letters = Counter(
            "soccer_dead_letters_total",
            "Inputs sent to the DLQ, by reason.",
            ["reason"],
            registry=r,
        )
        self.latency = Histogram(
            "soccer_event_to_prediction_seconds",
            "From the input record's Kafka timestamp to its prediction being produced.",
            ["trigger"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.inference = Histogram(
            "soccer_inference_seconds",
            "Wall time of one batched predict call.",
            buckets=INFERENCE_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "soccer_batch_size", "Events per micro-batch.", buckets=BATCH_BUCKETS, registry=r
        )
        # Where a batch's wall time goes: an operator sees whether a slow worker computes,
        # waits for the broker's acks, or waits for Redis, without attaching a profiler.
        self.batch_stage = Histogram(
            "soccer_batch_stage_seconds",
            "Wall time of one micro-batch per stage: compute (decode to serialised outputs), "
            "produce (send until the broker acknowledged every output), redis.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.model_info = Info("soccer_serving_model", "The model version serving.", registry=r)
        self.model_reloads = Counter(
            "soccer_model_reloads_total", "Model swaps and failed loads.", ["result"], registry=r
        )
        self.feature_age = Gauge(
            "soccer_feature_table_age_seconds", "Age of the serving feature snapshot.", registry=r
        )
        self.feature_reload_errors = Counter(
            "soccer_feature_reload_errors_total", "Feature snapshots rejected.", registry=r
        )
        self.unknown_teams = Counter(
            "soccer_unknown_teams_total", "Teams enriched with new-team defaults.", registry=r
        )
        self.redis_errors = Counter(
            "soccer_redis_errors_total", "Failed Redis writes or reads.", ["op"], registry=r
        )
        self.redis_pending = Gauge(
            "soccer_redis_pending_matches", "Latest predictions waiting for Redis.", registry=r
        )
        self.consumer_lag = Gauge(
            "soccer_consumer_lag",
            "Records behind the log end, by partition.",
            ["topic", "partition"],
            registry=r,
        )

        # Stream-updated features (streams.live.team_ratings). Every worker reads the whole
        # results topic, so these count per worker: take max, not sum, across workers.
        self.results_applied = Counter(
            "soccer_results_applied_total",
            "Match results folded into the team features (corrections included).",
            registry=r,
        )
        self.results_rejected = Counter(
            "soccer_results_rejected_total",
            "Match results not applied, by reason.",
            ["reason"],
            registry=r,
        )
        self.newest_result_age = Gauge(
            "soccer_newest_result_age_seconds",
            "Age of the newest result in the team features (by when it finished).",
            registry=r,
        )
        self.results_behind = Gauge(
            "soccer_results_behind",
            "Records of the results topic this worker has not read yet.",
            registry=r,
        )

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)

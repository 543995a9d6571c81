"""Every Prometheus metric of the service, defined once, in a registry owned by the app."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

# Event-to-prediction latency spans sub-millisecond (a warm batch) to seconds (a restart).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
INFERENCE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)

# The live-quality gauges (ScoreCollector). They hold running sums, but a gauge's name may
# not end in `_sum`, which the text format keeps for histograms and summaries (promtool
# check metrics), nor in `_total`, which it keeps for counters: the nouns say what is summed.
SCORED_FORECASTS = "soccer_model_scored_forecasts"
SUMMED_SCORE = "soccer_model_summed_score"
CALIBRATION_FORECASTS = "soccer_model_calibration_forecasts"
CALIBRATION_PREDICTED = "soccer_model_calibration_predicted_outcomes"
CALIBRATION_OBSERVED = "soccer_model_calibration_observed_outcomes"
CALIBRATION_ERROR = "soccer_model_expected_calibration_error"
CHALLENGER_SHARED_MATCHES = "soccer_challenger_shared_matches"
CHALLENGER_LOG_LOSS_GAIN = "soccer_challenger_log_loss_gain"


class ScoreRow(NamedTuple):
    """One model version's score sums in one phase, and its calibration error there."""

    version: str
    phase: str
    n: int
    log_loss: float
    brier: float
    rps: float
    ece: float | None


class CalibrationRow(NamedTuple):
    version: str
    phase: str
    bin: int  # 0..9: predicted probability [bin/10, (bin+1)/10)
    forecasts: int
    predicted: float
    observed: float


class ComparisonRow(NamedTuple):
    """Champion minus challenger log-loss on the matches both scored."""

    challenger: str
    n: int
    mean: float
    low: float
    high: float


class ScoreCollector(Collector):
    """The live scores as gauges, read from the score board at scrape time (they are
    rebuilt from Kafka on start, so they are state, not counters)."""

    def __init__(
        self,
        scores: Callable[[], Iterable[ScoreRow]],
        calibration: Callable[[], Iterable[CalibrationRow]],
        comparisons: Callable[[], Iterable[ComparisonRow]],
    ) -> None:
        self.scores = scores
        self.calibration = calibration
        self.comparisons = comparisons

    def collect(self) -> Iterator[Metric]:
        forecasts = GaugeMetricFamily(
            SCORED_FORECASTS,
            "Forecasts scored against results, by model version and phase.",
            labels=["version", "phase"],
        )
        sums = GaugeMetricFamily(
            SUMMED_SCORE,
            "A score (log_loss, brier, rps) summed over the scored forecasts; its mean is "
            f"this / {SCORED_FORECASTS}.",
            labels=["version", "phase", "score"],
        )
        ece = GaugeMetricFamily(
            CALIBRATION_ERROR,
            "Expected calibration error of the scored forecasts, class-wise over ten "
            "equal-width bins (models.scoring.expected_calibration_error): 0 is perfect.",
            labels=["version", "phase"],
        )
        for row in self.scores():
            forecasts.add_metric([row.version, row.phase], row.n)
            for score in ("log_loss", "brier", "rps"):
                sums.add_metric([row.version, row.phase, score], getattr(row, score))
            if row.ece is not None:
                ece.add_metric([row.version, row.phase], row.ece)
        bins = GaugeMetricFamily(
            CALIBRATION_FORECASTS,
            "Outcome probabilities in each tenth of [0, 1], by model version and phase.",
            labels=["version", "phase", "bin"],
        )
        predicted = GaugeMetricFamily(
            CALIBRATION_PREDICTED,
            "The probabilities in the bin summed: the outcomes they predicted (mean predicted "
            f"= this / {CALIBRATION_FORECASTS}).",
            labels=["version", "phase", "bin"],
        )
        observed = GaugeMetricFamily(
            CALIBRATION_OBSERVED,
            "How many of the bin's forecasts happened (observed frequency = this / "
            f"{CALIBRATION_FORECASTS}).",
            labels=["version", "phase", "bin"],
        )
        for cell in self.calibration():
            labels = [cell.version, cell.phase, str(cell.bin)]
            bins.add_metric(labels, cell.forecasts)
            predicted.add_metric(labels, cell.predicted)
            observed.add_metric(labels, cell.observed)
        shared = GaugeMetricFamily(
            CHALLENGER_SHARED_MATCHES,
            "Matches both the champion and the challenger were scored on.",
            labels=["challenger"],
        )
        gain = GaugeMetricFamily(
            CHALLENGER_LOG_LOSS_GAIN,
            "Champion minus challenger log-loss per shared match (positive: challenger "
            "better): the mean and its 95% paired-bootstrap interval.",
            labels=["challenger", "bound"],
        )
        for row in self.comparisons():
            shared.add_metric([row.challenger], row.n)
            for bound in ("mean", "low", "high"):
                gain.add_metric([row.challenger, bound], getattr(row, bound))
        yield from (forecasts, sums, ece, bins, predicted, observed, shared, gain)


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

        self.partition_stalled = Gauge(
            "soccer_partition_stalled",
            "1 while an owned partition has lag and no committed progress for STALL_SECONDS.",
            ["topic", "partition"],
            registry=r,
        )
        self.partition_stalls = Counter(
            "soccer_partition_stalls",
            "Stalls detected, by partition (streams.ops.stalls).",
            ["topic", "partition"],
            registry=r,
        )
        self.ready = Gauge(
            "soccer_ready", "1 while GET /ready would answer 200, else 0.", registry=r
        )
        self.model_last_resolved = Gauge(
            "soccer_model_last_resolved_timestamp_seconds",
            "When the serving alias last resolved in the registry (Unix time).",
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

        # Challengers in shadow (streams.flow.shadow).
        self.shadow_predictions = Counter(
            "soccer_shadow_predictions_total",
            "Predictions made by a challenger in shadow, by model version.",
            ["version"],
            registry=r,
        )
        self.shadow_skipped = Counter(
            "soccer_shadow_skipped_total",
            "Batches a challenger did not answer: busy, late, error, bad_output.",
            ["version", "reason"],
            registry=r,
        )
        self.shadow_wait = Histogram(
            "soccer_shadow_wait_seconds",
            "How long a batch waited for a challenger after the champion's outputs.",
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.promotions = Counter(
            "soccer_promotions_total",
            "Model versions moved to the champion alias by this worker, auto or manual.",
            ["how"],
            registry=r,
        )
        self.promotion_checks = Counter(
            "soccer_promotion_checks_total",
            "Champion/challenger comparisons the promoter judged on this worker (AUTO_PROMOTE).",
            registry=r,
        )
        self.evaluation_publish_errors = Counter(
            "soccer_evaluation_publish_errors_total",
            "Batches whose shadow predictions or scores the broker refused for good.",
            registry=r,
        )

        # The read models beside the champion's path (streams.read_models).
        self.read_model_records = Counter(
            "soccer_read_model_records_total",
            "Output records applied to a read model (timelines, forecasts).",
            ["read_model"],
            registry=r,
        )
        self.read_model_rejected = Counter(
            "soccer_read_model_rejected_total",
            "Output records the read models could not read, by topic.",
            ["topic"],
            registry=r,
        )
        self.read_model_errors = Counter(
            "soccer_read_model_errors_total",
            "Chunks of outputs a read model failed to apply (skipped, logged).",
            registry=r,
        )
        self.match_memories = Gauge(
            "soccer_match_memories",
            "Matches held per table on this worker (its own partitions and standbys).",
            ["table"],
            registry=r,
        )
        self.match_memories_forgotten = Counter(
            "soccer_match_memories_forgotten_total",
            "Matches this worker forgot, per table: `expired` (MATCH_MEMORY_HOURS, "
            "FINISHED_MATCH_MINUTES) or `limit` (past MATCH_MEMORY_LIMIT).",
            ["table", "reason"],
            registry=r,
        )

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)

"""The worker's handle: what a running worker holds, for the parts that look at it.

Status, readiness and the web views take this handle and read its named parts; none of
them reaches through the batch processor. ``streams.app.create_app`` builds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust

from streams.evaluation.board import ScoreBoard
from streams.evaluation.promoter import Promoter
from streams.faust_glue.kafka_admin import KafkaAdmin
from streams.faust_glue.topic_replica import TopicReplica
from streams.flow.match_state import MatchStates
from streams.live.feature_store import FeatureStore
from streams.live.model_server import ModelServer
from streams.live.team_ratings import TeamRatings
from streams.metrics import Metrics
from streams.ops.consumer_lag import ConsumerLag
from streams.ops.recent import RecentPredictions
from streams.ops.stalls import StallWatchdog
from streams.ops.throughput import Throughput
from streams.read_models.builder import ReadModels
from streams.settings import Settings
from streams.sinks.redis_latest import RedisLatestSink


@dataclass(frozen=True)
class WorkerHandle:
    """The app, its settings and metrics, and the long-lived parts it runs."""

    app: faust.App
    settings: Settings
    metrics: Metrics
    models: ModelServer
    features: FeatureStore
    ratings: TeamRatings
    #: None when STREAM_FEATURE_UPDATES is off.
    results: TopicReplica | None
    board: ScoreBoard
    scores: TopicReplica
    promoter: Promoter
    latest: RedisLatestSink
    kafka: KafkaAdmin
    lag: ConsumerLag
    stalls: StallWatchdog
    throughput: Throughput
    recent: RecentPredictions
    #: The champion's per-match state (read by the match pages).
    states: MatchStates
    #: The timelines and forecasts beside the path, and the topics they are fed from.
    read_models: ReadModels

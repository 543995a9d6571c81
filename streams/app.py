"""The only ``faust.App`` of the service, its topics, table, agents, tasks and views.

Build it with :func:`create_app`; run it with ``python -m streams worker``. Everything the
worker holds (model, feature snapshot, Redis client, metrics) hangs off the returned app,
so tests and benchmarks can build as many isolated apps as they need.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass

import faust
import structlog

from streams.agents import register_agents
from streams.consumer_lag import ConsumerLag
from streams.faust_patches import apply_faust_patches
from streams.features.store import FeatureStore
from streams.gc_freeze import freeze_when_loaded
from streams.latest_store import LatestStore
from streams.logs import logging_dict
from streams.metrics import Metrics
from streams.model_registry import registry_loader, registry_resolver, warm_frame
from streams.model_server import ModelServer
from streams.pipeline import Pipeline, Sender
from streams.settings import Settings
from streams.status import Throughput
from streams.web.driver import ServiceApp
from streams.web.views import register_views

log = structlog.get_logger(__name__)
LAG_POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Service:
    """The app and the pipeline that its agents and views share."""

    app: faust.App
    pipeline: Pipeline


def producer_sender(app: faust.App, topic: str) -> Sender:
    """Produce straight through the app's producer: the Topic/Channel layer adds per-record
    bookkeeping the pipeline does not use, and it is the hot path."""

    async def send(key: bytes | None, value: bytes) -> Awaitable[object]:
        return await app.producer.send(
            topic, key, value, partition=None, timestamp=None, headers=None
        )

    return send


def tuned_app(settings: Settings) -> ServiceApp:
    """The worker's Faust app, configured and tuned, with nothing registered on it yet."""
    apply_faust_patches()
    return ServiceApp(  # a faust.App whose "/" is our status page
        settings.consumer_group,
        broker=[
            f"kafka://{server.strip()}" for server in settings.kafka_bootstrap_servers.split(",")
        ],
        store="memory://",  # state is rebuilt from the changelog topic on start
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.kafka_session_timeout_seconds,
        broker_heartbeat_interval=max(1.0, settings.kafka_session_timeout_seconds / 5),
        broker_commit_interval=1.0,
        producer_acks=-1,
        # Throughput knobs measured with `python -m bench` (drain of one worker on 2 cores,
        # median of 3 interleaved runs: 2,962 -> 3,734 events/s, p99 at 1,000/s unchanged
        # within noise). Linger lets the per-record changelog and prediction sends share
        # produce requests (at most 5 ms added); bigger fetches and stream buffer keep
        # micro-batches full, so the per-batch costs (predict call, acks, Redis) amortise.
        # With BATCH_SIZE=1 each event would wait the linger alone (halving throughput).
        producer_linger=0.005 if settings.batch_size > 1 else 0.0,
        consumer_max_fetch_size=4 * 1024 * 1024,
        stream_buffer_maxsize=16384,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_enabled=True,
        web_tables_enabled=False,
        datadir=str(settings.state_dir / "faust"),
        autodiscover=False,
    )


def input_topic(app: faust.App, name: str, settings: Settings) -> faust.TopicT:
    """An input topic as the agents read it: raw bytes, the service's partition count."""
    return app.topic(name, partitions=settings.topic_partitions, key_type=bytes, value_type=bytes)


def create_app(settings: Settings) -> Service:
    """A fully wired worker app for ``settings`` (nothing connects until it starts)."""
    app = tuned_app(settings)
    livescores_topic = input_topic(app, settings.livescores_topic, settings)
    match_requests_topic = input_topic(app, settings.match_requests_topic, settings)
    # Keyed by match_id like the inputs; use_partitioner sends each key's changelog to the
    # partition its events use, so the worker that owns a match also owns its state.
    match_to_state = app.Table(
        "match_to_state",
        default=None,
        key_type=str,
        value_type=bytes,
        partitions=settings.topic_partitions,
        use_partitioner=True,
    )

    metrics = Metrics()
    features = FeatureStore(settings.features_dir, metrics)
    latest = LatestStore(settings.redis_url, settings.prediction_ttl_seconds, metrics)
    models = ModelServer(
        resolve=registry_resolver(settings),
        load=registry_loader(settings),
        alias=settings.model_alias,
        metrics=metrics,
        warm_frame=warm_frame,
    )
    pipeline = Pipeline(
        settings=settings,
        metrics=metrics,
        features=features,
        models=models,
        latest=latest,
        match_to_state=match_to_state,
        send_prediction=producer_sender(app, settings.predictions_topic),
        send_dead_letter=producer_sender(app, settings.predictions_dlq_topic),
    )

    register_agents(app, pipeline, livescores_topic, match_requests_topic)
    throughput = Throughput(pipeline)
    lag = ConsumerLag(
        app,
        (settings.livescores_topic, settings.match_requests_topic),
        settings.kafka_bootstrap_servers,
        metrics,
    )
    register_views(app, pipeline, throughput, lag)

    @app.task
    async def widen_changelog_buffer() -> None:
        # A batch writes up to BATCH_SIZE table keys at once; past 100 pending changelog
        # records Faust's ProducerBuffer throttles the consumer per message and logs a
        # warning, which every full batch tripped. Room for a few batches keeps that
        # flow control for a real produce backlog. (Set here: the producer exists now.)
        app.producer.buffer.max_messages = max(100, 4 * settings.batch_size)

    @app.task
    async def watch_feature_tables() -> None:
        await features.watch(settings.features_poll_seconds)

    @app.task
    async def watch_model_alias() -> None:
        await models.poll(settings.model_poll_seconds)

    @app.task
    async def flush_parked_redis_writes() -> None:
        await latest.keep_flushing()

    @app.task
    async def measure_consumer_lag() -> None:
        await lag.run(LAG_POLL_SECONDS)

    if settings.gc_freeze:

        @app.task
        async def freeze_loaded_heap() -> None:
            await freeze_when_loaded(lambda: models.current, [models.ready, features.ready])

    @app.task
    async def sample_throughput() -> None:
        await throughput.run(1.0)

    return Service(app=app, pipeline=pipeline)


def run_worker(app: faust.App, settings: Settings) -> None:
    """Run ``app`` in a Faust worker until SIGINT/SIGTERM, logging as the service does."""
    (settings.state_dir / "faust").mkdir(parents=True, exist_ok=True)
    faust.Worker(
        app,
        loglevel=settings.log_level.upper(),
        logging_config=logging_dict(settings.log_level),
        quiet=True,
    ).execute_from_commandline()

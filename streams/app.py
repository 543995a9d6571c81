"""The only ``faust.App`` of the service: its topics, table, agents, services and views.

Build it with :func:`create_app`; run it with ``python -m streams worker``. The app is made
per settings, so tests and benchmarks can build as many isolated apps as they need; what
it holds is reachable through the returned :class:`~streams.handle.WorkerHandle`.
"""

from __future__ import annotations

import datetime as dt

import faust

from streams.connect.kafka import faust_credentials, kafka_options
from streams.connect.mlflow import export_mlflow_credentials
from streams.connect.redis import redis_options
from streams.evaluation.board import ScoreBoard, calibration_rows, score_rows
from streams.evaluation.promoter import Promoter
from streams.evaluation.scores_reader import scores_reader
from streams.faust_glue.gc_freeze import HeapFreezer
from streams.faust_glue.kafka_admin import KafkaAdmin
from streams.faust_glue.match_keyed import match_keyed_table
from streams.faust_glue.patches import apply_faust_patches
from streams.faust_glue.raw_table_keys import raw_keys
from streams.faust_glue.recency import recently_written
from streams.faust_glue.send_now import PRODUCER_LINGER_SECONDS, send_now
from streams.faust_glue.table_writer import match_table_writer
from streams.faust_glue.topic_admin import changelog_configs
from streams.faust_glue.web_driver import ServiceApp
from streams.flow.agents import Activity, BatchLoop, dead_letter_failures, register_agents
from streams.flow.batch import BatchProcessor
from streams.flow.match_state import MatchStates
from streams.flow.memory_janitor import MemoryJanitor, StateStore
from streams.flow.publish import Publisher
from streams.flow.shadow import ShadowRunner
from streams.handle import WorkerHandle
from streams.live.feature_store import FeatureStore
from streams.live.model_server import ModelServer
from streams.live.model_source import RegistrySource
from streams.live.results_reader import results_reader
from streams.live.team_ratings import TeamRatings
from streams.logs import logging_dict
from streams.metrics import Metrics, ScoreCollector
from streams.ops.consumer_lag import ConsumerLag
from streams.ops.evaluation import comparison_rows
from streams.ops.readiness import ReadyGauge
from streams.ops.recent import RecentPredictions
from streams.ops.stalls import StallWatchdog
from streams.ops.throughput import Throughput
from streams.ops.traces import tracing_for
from streams.ops.web.views import register_views
from streams.read_models.agent import register_read_model_agent
from streams.read_models.builder import ReadModels, ReadModelStore
from streams.read_models.outputs import MatchOutputs
from streams.read_models.outputs import rank as output_rank
from streams.read_models.results import MatchResults
from streams.settings import Settings
from streams.sinks.kafka_sender import producer_sender
from streams.sinks.redis_latest import RedisLatestSink
from streams.table_names import MATCH_STATE_TABLE, OUTPUTS_TABLE, RESULTS_TABLE

#: Room in Faust's changelog buffer, in batches: a batch writes up to BATCH_SIZE table
#: keys at once (a read model one per output), and past its limit Faust throttles the
#: consumer per message.
CHANGELOG_BUFFER_BATCHES = 4


def tuned_app(settings: Settings) -> ServiceApp:
    """The worker's Faust app, configured and tuned, with nothing registered on it yet.

    The throughput knobs are measured in docs/benchmarks.md: a short producer linger lets
    the outputs of batches computed back to back share produce requests (a quiet stream
    does not wait for it: ``send_now``), and bigger fetches and stream buffer keep batches
    full under load so per-batch costs amortise.
    """
    apply_faust_patches()
    return ServiceApp(  # a faust.App whose "/" is our status page
        settings.consumer_group,
        broker=[
            f"kafka://{server.strip()}" for server in settings.kafka_bootstrap_servers.split(",")
        ],
        broker_credentials=faust_credentials(settings),
        store="memory://",  # state is rebuilt from the changelog topic on start
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.kafka_session_timeout_seconds,
        broker_heartbeat_interval=max(1.0, settings.kafka_session_timeout_seconds / 5),
        broker_commit_interval=1.0,
        producer_acks=-1,
        # Outputs of batches computed back to back share produce requests; when no more
        # events are waiting the batch loop ends the linger at once (send_now).
        producer_linger=PRODUCER_LINGER_SECONDS,
        consumer_max_fetch_size=4 * 1024 * 1024,
        stream_buffer_maxsize=16384,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        # Given explicitly when set; unset, Faust's own default (http://WEB_HOST:WEB_PORT).
        **({"canonical_url": settings.node_canonical_url} if settings.node_canonical_url else {}),
        web_enabled=True,
        web_tables_enabled=False,
        datadir=str(settings.state_dir / "faust"),
        autodiscover=False,
    )


def input_topic(app: faust.App, name: str, settings: Settings) -> faust.TopicT:
    """An input topic as the agents read it: raw bytes, the service's partition count."""
    return app.topic(name, partitions=settings.topic_partitions, key_type=bytes, value_type=bytes)


def match_table(app: faust.App, name: str, settings: Settings) -> faust.TableT:
    """A table of bytes keyed by ``match_id`` like the inputs.

    ``use_partitioner`` sends each key's changelog to the partition its events use, and raw
    keys make that the same hash (``streams.faust_glue.raw_table_keys``): the worker that
    owns a match also owns its state. Its store lists the matches least recently written
    first (``streams.faust_glue.recency``), for the memory janitor's limit.
    """
    table = app.Table(
        name,
        default=None,
        key_type=str,
        value_type=bytes,
        partitions=settings.topic_partitions,
        use_partitioner=True,
        extra_topic_configs=changelog_configs(settings),
    )
    raw_keys(table)
    recently_written(table)
    return table


def create_app(settings: Settings) -> WorkerHandle:
    """A fully wired worker for ``settings`` (nothing connects until the app starts)."""
    export_mlflow_credentials(settings)
    app = tuned_app(settings)
    livescores_topic = input_topic(app, settings.livescores_topic, settings)
    match_requests_topic = input_topic(app, settings.match_requests_topic, settings)
    # Every table is written through a TableWriter: its changelog records are outputs of
    # the batch that wrote them (streams.faust_glue.table_writer).
    states = MatchStates(match_table_writer(app, match_table(app, MATCH_STATE_TABLE, settings)))
    outputs = MatchOutputs(
        *match_keyed_table(
            app,
            OUTPUTS_TABLE,
            settings.topic_partitions,
            order=output_rank,
            topic_configs=changelog_configs(settings),
        )
    )
    held_results = MatchResults(match_table_writer(app, match_table(app, RESULTS_TABLE, settings)))

    metrics = Metrics()
    features = FeatureStore(settings.features_dir, metrics, settings.features_poll_seconds)
    latest = RedisLatestSink(
        settings.redis_url.get_secret_value(),
        settings.prediction_ttl_seconds,
        metrics,
        **redis_options(settings),
    )
    models = ModelServer(
        RegistrySource(settings.model_name, settings.registry_uri),
        settings.model_alias,
        metrics,
        settings.model_poll_seconds,
        challenger_aliases=settings.challengers,
    )
    ratings = TeamRatings()
    features.on_swap.append(ratings.rebase)
    results = (
        results_reader(kafka_options(settings), settings.results_topic, ratings, metrics)
        if settings.stream_feature_updates
        else None
    )
    board = ScoreBoard()
    scores = scores_reader(kafka_options(settings), settings.scores_topic, board)
    promoter = Promoter(
        board=board,
        models=models,
        model_name=settings.model_name,
        tracking_uri=settings.registry_uri,
        metrics=metrics,
        auto=settings.auto_promote,
        min_matches=settings.promote_min_matches,
        interval=settings.promote_check_seconds,
        decides=lambda: app.is_leader() and scores.caught_up.is_set(),
    )
    metrics.registry.register(
        ScoreCollector(
            lambda: score_rows(board),
            lambda: calibration_rows(board),
            lambda: comparison_rows(board, models, promoter),
        )
    )
    kafka = KafkaAdmin(kafka_options(settings))
    read_models = ReadModels(
        outputs=outputs,
        results=held_results,
        metrics=metrics,
        predictions_topic=settings.predictions_topic,
        shadow_topic=settings.predictions_shadow_topic,
        results_topic=settings.results_topic,
    )
    inputs = (settings.livescores_topic, settings.match_requests_topic)
    lag = ConsumerLag(app, (*inputs, *read_models.topics), kafka, metrics)
    stalls = StallWatchdog(metrics, settings.stall_seconds, settings.stall_action)
    # The champion's inputs only: the read models wait for the champion by design.
    lag.on_measure.append(lambda lags: stalls.on_measure([p for p in lags if p.topic in inputs]))
    worker = WorkerHandle(
        app=app,
        settings=settings,
        metrics=metrics,
        models=models,
        features=features,
        ratings=ratings,
        results=results,
        board=board,
        scores=scores,
        promoter=promoter,
        latest=latest,
        kafka=kafka,
        lag=lag,
        stalls=stalls,
        throughput=Throughput(metrics),
        recent=RecentPredictions(),
        states=states,
        read_models=read_models,
    )

    # Trace headers onto outputs; spans exported only with OTEL_EXPORTER_OTLP_ENDPOINT.
    tracing, trace_export = tracing_for(settings)
    publisher = Publisher(
        predictions=producer_sender(app, settings.predictions_topic),
        dead_letters=producer_sender(app, settings.predictions_dlq_topic),
        results=producer_sender(app, settings.results_topic),
        shadow=producer_sender(app, settings.predictions_shadow_topic),
        scores=producer_sender(app, settings.scores_topic),
        latest=latest,
        redis_key=settings.redis_key,
        metrics=metrics,
        tracing=tracing,
    )
    publisher.on_published.append(worker.recent.add)
    shadow = ShadowRunner(metrics, settings.shadow_wait_seconds)
    processor = BatchProcessor(
        states=states,
        models=models,
        features=features,
        ratings=ratings,
        publisher=publisher,
        shadow=shadow,
        metrics=metrics,
        results_read=results.caught_up if results is not None else None,
    )
    activity = Activity()
    loop = BatchLoop(
        dead_letter_failures(publisher.publish_dead_letters, metrics),
        settings.batch_size,
        quiet=lambda: send_now(app),
        activity=activity,
    )
    register_agents(app, loop, processor, livescores_topic, match_requests_topic)
    # Beside the champion: fed from its outputs, applied only when it is idle.
    register_read_model_agent(
        app, read_models, activity, publisher, metrics, settings.topic_partitions
    )
    register_views(app, worker)

    # Started before Faust's own services and stopped after them, so the model loads while
    # the consumer joins, and sinks close only once the agents are done.
    services: list[faust.Service] = [
        models,
        features,
        latest,
        kafka,
        worker.lag,
        ReadyGauge(worker),
        worker.throughput,
        worker.scores,
        promoter,
        shadow,
        MemoryJanitor(
            app,
            [StateStore(states), ReadModelStore(read_models)],
            settings.livescores_topic,
            settings.topic_partitions,
            ttl=dt.timedelta(hours=settings.match_memory_hours),
            finished_ttl=dt.timedelta(minutes=settings.finished_match_minutes),
            limit=settings.match_memory_limit,
            metrics=metrics,
            send_all=publisher.send_all,
        ),
    ]
    if results is not None:
        services.append(results)
    if trace_export is not None:
        services.append(trace_export)  # stopped after the agents: flushes their last spans
    if settings.gc_freeze:
        freezer = HeapFreezer([models.ready, features.ready])
        models.on_swap.append(freezer.after_swap)
        app.on_rebalance_complete.connect(freezer.after_recovery)
        services.append(freezer)
    for service in services:
        app.add_dependency(service)

    @app.task
    async def widen_changelog_buffer() -> None:
        # Past 100 pending changelog records (Faust's default) the consumer is throttled
        # per message, which every full batch tripped; room for a few batches keeps that
        # flow control for a real produce backlog. (Set here: the producer exists now.)
        app.producer.buffer.max_messages = max(100, CHANGELOG_BUFFER_BATCHES * settings.batch_size)

    return worker


def run_worker(app: faust.App, settings: Settings) -> None:
    """Run ``app`` in a Faust worker until SIGINT/SIGTERM, logging as the service does."""
    (settings.state_dir / "faust").mkdir(parents=True, exist_ok=True)
    faust.Worker(
        app,
        loglevel=settings.log_level.upper(),
        logging_config=logging_dict(settings.log_level),
        quiet=True,
    ).execute_from_commandline()

"""The one settings object of the service, read from the environment.

Every field is named after its environment variable (``kafka_bootstrap_servers`` is
``KAFKA_BOOTSTRAP_SERVERS``); the defaults are the ones in the wire contract. Each field's
description says what it does, not its name: ``docs/configuration.md`` is rendered from
them with their variables, types and defaults (``python -m devstack.settings_doc``).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, PositiveFloat, PositiveInt, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class HostPort:
    """A parsed ``host:port`` pair."""

    __slots__ = ("host", "port")

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def __repr__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_host_port(value: str, default_port: int) -> HostPort:
    """Parse ``host[:port]``; raises ``ValueError`` with a readable message."""
    host, _, port = value.strip().rpartition(":") if ":" in value else (value.strip(), "", "")
    if not host:
        raise ValueError(f"expected host:port, got {value!r}")
    if not port:
        return HostPort(host, default_port)
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad port in {value!r}")
    return HostPort(host, int(port))


class Settings(BaseSettings):
    """Service configuration. Construct once at start-up and pass it down."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_file=None)

    # Kafka
    kafka_bootstrap_servers: str = Field(
        "localhost:9092",
        description="Comma-separated `host:port` list of brokers; a missing port is 9092.",
    )
    livescores_topic: str = Field(
        "livescores", description="Input topic of live score events, keyed by match."
    )
    match_requests_topic: str = Field(
        "match-requests", description="Input topic of on-demand prediction requests."
    )
    predictions_topic: str = Field(
        "predictions", description="Output topic of the champion's predictions."
    )
    predictions_dlq_topic: str = Field(
        "predictions-dlq",
        description="Output topic of dead letters: inputs that could not be predicted, "
        "each with its `topic[partition]@offset` and a reason.",
    )
    predictions_shadow_topic: str = Field(
        "predictions-shadow",
        description="Output topic of the challengers' predictions (never written to Redis).",
    )
    consumer_group: str = Field(
        "soccerpredict",
        description="The Faust app id and Kafka consumer group; also the prefix of the "
        "internal `-scores` and `-results` topics.",
    )
    kafka_session_timeout_seconds: PositiveFloat = Field(
        10.0, description="Consumer session timeout: how soon a dead worker's partitions move."
    )
    topic_partitions: PositiveInt = Field(
        4, description="Partitions of the topics the worker creates."
    )
    topic_replication_factor: PositiveInt = Field(
        1,
        description="Replicas of the topics `streams topics` and the worker create "
        "(3 on a production cluster).",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How every Kafka client connects."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism, with `SASL_PLAINTEXT` or `SASL_SSL`."
    )
    kafka_sasl_username: str = Field(
        "", description="SASL user name (a Confluent Cloud API key, for example)."
    )
    kafka_sasl_password: SecretStr | None = Field(
        None, description="SASL password (a Confluent Cloud API secret, for example)."
    )
    kafka_ssl_cafile: Path | None = Field(
        None,
        description="CA bundle (PEM) the brokers' certificates are checked against; "
        "unset = the system's CAs.",
    )
    kafka_ssl_certfile: Path | None = Field(
        None, description="Client certificate (PEM), for mutual TLS."
    )
    kafka_ssl_keyfile: Path | None = Field(
        None, description="The client certificate's private key (PEM), for mutual TLS."
    )
    kafka_ssl_check_hostname: bool = Field(
        True, description="Check the broker's name against its certificate."
    )
    kafka_startup_timeout_seconds: PositiveFloat = Field(
        60.0,
        description="How long start-up waits for an unreachable broker before it exits "
        "(a refused login exits at once).",
    )

    # Redis
    redis_url: SecretStr = Field(
        SecretStr("redis://localhost:6379/0"),
        description="Redis URL, a secret since it may hold a password: "
        "`rediss://user:password@host:port/0` for TLS and an ACL user. The default is the "
        "local stack's Redis on localhost:6379, database 0.",
    )
    redis_ssl_cafile: Path | None = Field(
        None,
        description="CA bundle (PEM) the Redis server's certificate is checked against "
        "(`rediss://`).",
    )
    redis_ssl_certfile: Path | None = Field(
        None, description="Client certificate (PEM), for mutual TLS with Redis."
    )
    redis_ssl_keyfile: Path | None = Field(
        None, description="The Redis client certificate's private key (PEM)."
    )
    redis_key_prefix: str = Field(
        "", description="Put before every Redis key (isolates tenants and tests)."
    )
    prediction_ttl_seconds: PositiveInt = Field(
        7 * 24 * 3600,
        description="Time to live of `prediction:{match_id}` in Redis (a week by default).",
    )

    # Model registry
    mlflow_tracking_uri: str = Field(
        "",
        description="MLflow tracking and registry URI; empty = a SQLite registry at "
        "`STATE_DIR/mlflow/mlflow.db` with artifacts in `STATE_DIR/mlflow/artifacts`.",
    )
    mlflow_tracking_username: str = Field(
        "", description="User name for a tracking server behind basic auth (MLflow's own name)."
    )
    mlflow_tracking_password: SecretStr | None = Field(
        None, description="Password for a tracking server behind basic auth (MLflow's own name)."
    )
    model_name: str = Field("soccer_clf", description="Registered model that is served.")
    model_alias: str = Field("champion", description="The alias of `MODEL_NAME` that is served.")
    model_poll_seconds: PositiveFloat = Field(
        30.0, description="How often the alias is resolved again (a new version is loaded)."
    )
    challenger_aliases: str = Field(
        "challenger",
        description="Comma-separated aliases run in shadow beside the champion; empty = none.",
    )
    shadow_wait_seconds: PositiveFloat = Field(
        0.1,
        description="The most a batch waits for its challengers, counted from when they "
        "started (they run beside the champion).",
    )
    auto_promote: bool = Field(
        False,
        description="Move the champion alias to a challenger that beats it on shared matches.",
    )
    promote_min_matches: PositiveInt = Field(
        200, description="Shared scored matches a challenger needs before it can be promoted."
    )
    promote_check_seconds: PositiveFloat = Field(
        30.0,
        description="How often the leader checks the comparisons when `AUTO_PROMOTE` is on.",
    )
    mlflow_webhook_secret: SecretStr | None = Field(
        None,
        description="HMAC key of `POST /hooks/mlflow`, the MLflow webhook that reloads the "
        "models at once when an alias moves; unset = the endpoint is off.",
    )
    match_memory_hours: PositiveFloat = Field(
        48.0,
        description="A match that never finished is forgotten this long after its last event.",
    )
    finished_match_minutes: PositiveFloat = Field(
        60.0,
        description="A finished match is kept this long after its last event, for corrected "
        "results, then forgotten.",
    )
    match_memory_limit: PositiveInt = Field(
        50_000,
        description="The most matches a worker remembers per table of its own partitions, "
        "whatever their age: past it the matches never followed live are forgotten first, "
        "least recently written first (a flood of new match ids cannot grow the worker).",
    )
    changelog_compact_seconds: PositiveFloat = Field(
        3600.0,
        description="How soon a forgotten match leaves the tables' changelogs: their "
        "segments roll this often (`segment.ms`) and a tombstone is kept this long once "
        "compacted (`delete.retention.ms`), so a restart reads about MATCH_MEMORY_LIMIT "
        "matches plus what the last two such periods wrote. Set on the changelogs the "
        "worker or `streams topics` creates; change existing ones with kafka-configs.",
    )

    # Features and serving
    features_dir: Path = Field(
        Path(".state/features"), description="Folder of the Parquet feature tables."
    )
    features_poll_seconds: PositiveFloat = Field(
        5.0, description="How often `FEATURES_DIR` is checked for changes."
    )
    stream_feature_updates: bool = Field(
        True,
        description="Fold finished matches into the team features; off = the features stay "
        "as the snapshot was trained (results are written and scored either way).",
    )
    batch_size: PositiveInt = Field(
        1024,
        description="The most events in one batch (a batch is whatever has arrived, so it "
        "is smaller at low load).",
    )

    # HTTP
    web_port: int = Field(6066, ge=1, le=65535, description="Port of the Faust web server.")
    web_host: str = Field("127.0.0.1", description="Address the web server binds.")
    node_canonical_url: str | None = Field(
        None,
        description="How the other workers reach this one (match pages are proxied to a "
        "match's owner); unset = `http://WEB_HOST:WEB_PORT`.",
    )
    admin_token: SecretStr | None = Field(
        None, description="Bearer token of `POST /model/reload`; unset = the endpoint is off."
    )

    # Operations
    stall_seconds: PositiveFloat = Field(
        60.0,
        description="An owned partition with lag whose committed offset has not moved for "
        "this long is stalled.",
    )
    stall_action: Literal["report", "exit"] = Field(
        "report",
        description="On a stall: `report` (on `/ready`, the status page and the metrics) or "
        "`exit` with status 70 (so the orchestrator restarts the worker).",
    )
    otel_exporter_otlp_endpoint: str = Field(
        "",
        description="Export trace spans over OTLP/HTTP to this endpoint; empty = no export.",
    )

    # Local stack and housekeeping
    state_dir: Path = Field(
        Path(".state"),
        description="Local state: the local stack's data and logs, the SQLite registry, caches.",
    )
    kafka_controller_port: int = Field(
        9093, ge=1, le=65535, description="The local stack's KRaft controller port."
    )
    kafka_heap: str = Field("512m", description="`-Xmx` of the local stack's broker.")
    log_level: str = Field(
        "INFO",
        description="Level of the service's own logs (Faust, aiokafka, MLflow and the other "
        "libraries stay at WARNING).",
    )
    gc_freeze: bool = Field(
        True,
        description="Freeze the loaded heap so full GC passes stay short "
        "(`streams/faust_glue/gc_freeze.py`); off only to measure its effect.",
    )

    @field_validator(
        "admin_token", "mlflow_webhook_secret", "kafka_sasl_password", "mlflow_tracking_password"
    )
    @classmethod
    def _empty_secret_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value and value.get_secret_value() else None

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_parses(cls, value: str) -> str:
        for part in value.split(","):
            parse_host_port(part, 9092)
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_parses(cls, value: SecretStr) -> SecretStr:
        scheme = urlsplit(value.get_secret_value()).scheme
        if scheme not in {"redis", "rediss", "unix"}:
            # The URL may hold a password: name only its scheme.
            raise ValueError(f"REDIS_URL must be a redis:// or rediss:// URL, not {scheme!r}")
        return value

    @cached_property
    def kafka_address(self) -> HostPort:
        """The first bootstrap server: the one the local stack runs."""
        return parse_host_port(self.kafka_bootstrap_servers.split(",")[0], 9092)

    @cached_property
    def redis_address(self) -> HostPort:
        parts = urlsplit(self.redis_url.get_secret_value())
        return HostPort(parts.hostname or "localhost", parts.port or 6379)

    @property
    def redis_shown(self) -> str:
        """REDIS_URL as logs and pages may show it: no user or password."""
        parts = urlsplit(self.redis_url.get_secret_value())
        return f"{parts.scheme}://{self.redis_address}{parts.path}"

    @cached_property
    def registry_uri(self) -> str:
        """The MLflow tracking/registry URI, defaulting to SQLite under STATE_DIR."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.state_dir / 'mlflow' / 'mlflow.db').resolve()}"

    @cached_property
    def artifacts_dir(self) -> Path:
        """Where a local registry keeps model artifacts."""
        return (self.state_dir / "mlflow" / "artifacts").resolve()

    @property
    def challengers(self) -> tuple[str, ...]:
        """The challenger aliases, in order (the champion alias is never one)."""
        names = (part.strip() for part in self.challenger_aliases.split(","))
        return tuple(name for name in names if name and name != self.model_alias)

    @property
    def scores_topic(self) -> str:
        """The internal topic of scored forecasts (one partition, compacted)."""
        return f"{self.consumer_group}-scores"

    @property
    def results_topic(self) -> str:
        """The internal topic of finished matches (one partition, compacted)."""
        return f"{self.consumer_group}-results"

    def redis_key(self, match_id: str) -> str:
        """The contract key ``prediction:{match_id}``, behind the configured prefix."""
        return f"{self.redis_key_prefix}prediction:{match_id}"

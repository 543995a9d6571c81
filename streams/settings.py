"""The one settings object of the service, read from the environment.

Every field is named after its environment variable (``kafka_bootstrap_servers`` is
``KAFKA_BOOTSTRAP_SERVERS``); the defaults are the ones in the wire contract.
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
        "localhost:9092", description="KAFKA_BOOTSTRAP_SERVERS: comma-separated host:port list."
    )
    livescores_topic: str = Field("livescores", description="LIVESCORES_TOPIC (in).")
    match_requests_topic: str = Field("match-requests", description="MATCH_REQUESTS_TOPIC (in).")
    predictions_topic: str = Field("predictions", description="PREDICTIONS_TOPIC (out).")
    predictions_dlq_topic: str = Field(
        "predictions-dlq", description="PREDICTIONS_DLQ_TOPIC: dead letters (out)."
    )
    predictions_shadow_topic: str = Field(
        "predictions-shadow",
        description="PREDICTIONS_SHADOW_TOPIC: the challengers' predictions (out, never Redis).",
    )
    consumer_group: str = Field(
        "soccerpredict", description="CONSUMER_GROUP: the Faust app id and consumer group."
    )
    kafka_session_timeout_seconds: PositiveFloat = Field(
        10.0, description="KAFKA_SESSION_TIMEOUT_SECONDS: how soon a dead worker's partitions move."
    )
    topic_partitions: PositiveInt = Field(
        4, description="TOPIC_PARTITIONS: partitions of the topics the worker creates."
    )
    topic_replication_factor: PositiveInt = Field(
        1,
        description="TOPIC_REPLICATION_FACTOR: replicas of the topics `streams topics` and "
        "the worker create (3 on a production cluster).",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="KAFKA_SECURITY_PROTOCOL: how every Kafka client connects."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="KAFKA_SASL_MECHANISM (with SASL_PLAINTEXT or SASL_SSL)."
    )
    kafka_sasl_username: str = Field("", description="KAFKA_SASL_USERNAME.")
    kafka_sasl_password: SecretStr | None = Field(None, description="KAFKA_SASL_PASSWORD.")
    kafka_ssl_cafile: Path | None = Field(
        None, description="KAFKA_SSL_CAFILE: CA bundle (PEM); unset = the system's CAs."
    )
    kafka_ssl_certfile: Path | None = Field(
        None, description="KAFKA_SSL_CERTFILE: client certificate (PEM), for mutual TLS."
    )
    kafka_ssl_keyfile: Path | None = Field(
        None, description="KAFKA_SSL_KEYFILE: the client certificate's key (PEM)."
    )
    kafka_ssl_check_hostname: bool = Field(
        True, description="KAFKA_SSL_CHECK_HOSTNAME: check the broker's name in its cert."
    )
    kafka_startup_timeout_seconds: PositiveFloat = Field(
        60.0,
        description="KAFKA_STARTUP_TIMEOUT_SECONDS: how long start-up waits for an "
        "unreachable broker before it exits (a refused login exits at once).",
    )

    # Redis
    redis_url: SecretStr = Field(
        SecretStr("redis://localhost:6379/0"),
        description="REDIS_URL: rediss://user:password@host:port/0 for TLS and an ACL user.",
    )
    redis_ssl_cafile: Path | None = Field(None, description="REDIS_SSL_CAFILE (rediss://).")
    redis_ssl_certfile: Path | None = Field(
        None, description="REDIS_SSL_CERTFILE: client certificate (PEM), for mutual TLS."
    )
    redis_ssl_keyfile: Path | None = Field(None, description="REDIS_SSL_KEYFILE.")
    redis_key_prefix: str = Field(
        "", description="REDIS_KEY_PREFIX: put before every key (isolates tenants and tests)."
    )
    prediction_ttl_seconds: PositiveInt = Field(
        7 * 24 * 3600, description="PREDICTION_TTL_SECONDS: TTL of prediction:{match_id}."
    )

    # Model registry
    mlflow_tracking_uri: str = Field(
        "", description="MLFLOW_TRACKING_URI: empty means a SQLite registry in STATE_DIR/mlflow."
    )
    mlflow_tracking_username: str = Field(
        "", description="MLFLOW_TRACKING_USERNAME: basic auth of a tracking server."
    )
    mlflow_tracking_password: SecretStr | None = Field(
        None, description="MLFLOW_TRACKING_PASSWORD."
    )
    model_name: str = Field("soccer_clf", description="MODEL_NAME: registered model name.")
    model_alias: str = Field("champion", description="MODEL_ALIAS: alias that is served.")
    model_poll_seconds: PositiveFloat = Field(
        30.0, description="MODEL_POLL_SECONDS: how often the alias is re-resolved."
    )
    challenger_aliases: str = Field(
        "challenger",
        description="CHALLENGER_ALIASES: comma-separated aliases run in shadow (empty: none).",
    )
    shadow_wait_seconds: PositiveFloat = Field(
        0.1,
        description="SHADOW_WAIT_SECONDS: the most a batch waits for its challengers, counted "
        "from when they started (they run beside the champion).",
    )
    auto_promote: bool = Field(
        False, description="AUTO_PROMOTE: move champion to a challenger that beats it."
    )
    promote_min_matches: PositiveInt = Field(
        200,
        description="PROMOTE_MIN_MATCHES: shared matches a challenger needs before promotion.",
    )
    promote_check_seconds: PositiveFloat = Field(
        30.0, description="PROMOTE_CHECK_SECONDS: how often the comparison is checked."
    )
    mlflow_webhook_secret: SecretStr | None = Field(
        None,
        description="MLFLOW_WEBHOOK_SECRET: HMAC key of POST /hooks/mlflow; unset = off.",
    )
    match_memory_hours: PositiveFloat = Field(
        48.0,
        description="MATCH_MEMORY_HOURS: a match never finished is forgotten this long after "
        "its last event.",
    )
    finished_match_minutes: PositiveFloat = Field(
        60.0,
        description="FINISHED_MATCH_MINUTES: a finished match is kept this long for corrected "
        "results, then forgotten.",
    )

    # Features and serving
    features_dir: Path = Field(
        Path(".state/features"), description="FEATURES_DIR: Parquet feature tables."
    )
    features_poll_seconds: PositiveFloat = Field(
        5.0, description="FEATURES_POLL_SECONDS: how often FEATURES_DIR is checked for changes."
    )
    stream_feature_updates: bool = Field(
        True,
        description="STREAM_FEATURE_UPDATES: fold finished matches into the team features "
        "(off: the features stay as the snapshot was trained).",
    )
    batch_size: PositiveInt = Field(
        1024,
        description="BATCH_SIZE: the most events in one batch (a batch is whatever has "
        "arrived, so it is smaller at low load).",
    )

    # HTTP
    web_port: int = Field(6066, ge=1, le=65535, description="WEB_PORT: Faust web server port.")
    web_host: str = Field("127.0.0.1", description="WEB_HOST: address the web server binds.")
    node_canonical_url: str | None = Field(
        None,
        description="NODE_CANONICAL_URL: how the other workers reach this one (match pages "
        "are proxied to a match's owner); unset = http://WEB_HOST:WEB_PORT.",
    )
    admin_token: SecretStr | None = Field(
        None, description="ADMIN_TOKEN: bearer token for POST /model/reload; unset = off."
    )

    # Operations
    stall_seconds: PositiveFloat = Field(
        60.0,
        description="STALL_SECONDS: an owned partition with lag whose committed offset has "
        "not moved for this long is stalled.",
    )
    stall_action: Literal["report", "exit"] = Field(
        "report",
        description="STALL_ACTION: report (on /ready, the status page and metrics) or exit "
        "(so the orchestrator restarts the worker).",
    )
    otel_exporter_otlp_endpoint: str = Field(
        "",
        description="OTEL_EXPORTER_OTLP_ENDPOINT: export trace spans there; unset = none.",
    )

    # Local stack and housekeeping
    state_dir: Path = Field(
        Path(".state"), description="STATE_DIR: local stack data, logs, registry, caches."
    )
    kafka_controller_port: int = Field(
        9093, ge=1, le=65535, description="KAFKA_CONTROLLER_PORT: local KRaft controller port."
    )
    kafka_heap: str = Field("512m", description="KAFKA_HEAP: -Xmx of the local broker.")
    log_level: str = Field("INFO", description="LOG_LEVEL of the service's own logs.")
    gc_freeze: bool = Field(
        True,
        description="GC_FREEZE: freeze the loaded heap so full GC passes stay short "
        "(streams/faust_glue/gc_freeze.py); off only to measure its effect.",
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

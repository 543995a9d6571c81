"""``stack up --secure``: Kafka, Redis and MLflow with TLS, users and least privilege.

Everything lives under one folder (``STATE_DIR/secure`` for the CLI, a tmp folder for
tests): ``certs/`` (devstack/certs.py), ``credentials.json`` (every password, made once,
mode 600), ``ports.json`` (free ports chosen once), and one folder per server.

- **Kafka** (:class:`devstack.kafka_broker.BrokerSecurity`): SASL_SSL with SCRAM users
  ``admin`` (super user), ``worker``, ``client`` and ``nobody``, written into the metadata
  log at storage format; an mTLS listener (``User:worker`` from the client certificate's
  CN); the StandardAuthorizer with nothing allowed unless an ACL says so. At every start
  the ACLs of ``worker`` and ``client`` are set to exactly devstack/kafka_acls.py's lists,
  and the inputs and outputs are created (the worker may create only its own
  ``{group}-`` topics).
- **Redis**: TLS only, ``default`` user off, ``worker`` limited to the commands and keys
  of the latest-value sink, ``admin`` unlimited.
- **MLflow**: the ``basic-auth`` app; ``worker`` reads every model (the default READ) and
  holds EDIT on ``MODEL_NAME`` (moving aliases and tagging versions is an update).

``SecureStack(home).start()`` returns :class:`SecureEndpoints`, whose ``env_for`` gives the
environment a principal's process needs. Passwords appear only there, in
``credentials.json`` and in the servers' own private config files; never in a log or on a
command line.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shlex
import shutil
import ssl
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from devstack.certs import DevCertificates, ensure_certificates
from devstack.errors import StackError
from devstack.kafka_acls import AclAdmin, KafkaAcl, client_acls, internal_topics, worker_acls
from devstack.kafka_broker import BrokerSecurity, KafkaBroker
from devstack.local_stack import Component, ComponentStatus
from devstack.mlflow_server import MlflowAuth, MlflowGrant, MlflowServer
from devstack.redis_server import (
    ADMIN_REDIS_RULES,
    WORKER_REDIS_RULES,
    RedisSecurity,
    RedisServer,
    RedisUser,
)
from devstack.supervisor import free_port, require_free_port
from streams.faust_glue.topic_admin import service_topics
from streams.settings import Settings

HOST = "127.0.0.1"
KAFKA_USERS = ("admin", "worker", "client", "nobody")
REDIS_USERS = ("admin", "worker")
MLFLOW_USERS = ("admin", "worker")
Principal = Literal["admin", "worker", "client", "nobody"]
Mechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
PRIVATE = 0o600
KAFKA_HEAP = "384m"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def _password() -> SecretStr:
    # URL- and JAAS-safe characters only: no quoting anywhere it is written.
    return SecretStr(secrets.token_urlsafe(24))


class SecurePorts(BaseModel):
    """The stack's loopback ports, chosen free once and kept in ``ports.json``."""

    model_config = ConfigDict(frozen=True)

    kafka: int
    """SASL_SSL: the bootstrap address."""
    kafka_mtls: int
    kafka_internal: int
    kafka_controller: int
    kafka_anonymous: int | None = None
    redis: int
    mlflow: int

    @classmethod
    def load_or_choose(cls, path: Path, anonymous: bool) -> SecurePorts:
        try:
            ports = cls.model_validate_json(path.read_text())
        except (OSError, ValidationError):
            ports = None
        if ports is None or (anonymous and ports.kafka_anonymous is None):
            ports = cls(
                kafka=free_port(),
                kafka_mtls=free_port(),
                kafka_internal=free_port(),
                kafka_controller=free_port(),
                kafka_anonymous=free_port() if anonymous else None,
                redis=free_port(),
                mlflow=free_port(),
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(ports.model_dump_json(indent=2))
        return ports


class Credentials(BaseModel):
    """Every password of the stack, made once (``credentials.json``, mode 600)."""

    model_config = ConfigDict(frozen=True)

    kafka: dict[str, SecretStr]
    redis: dict[str, SecretStr]
    mlflow: dict[str, SecretStr]
    mlflow_secret_key: SecretStr

    @classmethod
    def make(cls) -> Credentials:
        return cls(
            kafka={name: _password() for name in KAFKA_USERS},
            redis={name: _password() for name in REDIS_USERS},
            mlflow={name: _password() for name in MLFLOW_USERS},
            mlflow_secret_key=_password(),
        )

    def save(self, path: Path) -> None:
        def reveal(passwords: dict[str, SecretStr]) -> dict[str, str]:
            return {name: value.get_secret_value() for name, value in passwords.items()}

        _write_private(
            path,
            json.dumps(
                {
                    "kafka": reveal(self.kafka),
                    "redis": reveal(self.redis),
                    "mlflow": reveal(self.mlflow),
                    "mlflow_secret_key": self.mlflow_secret_key.get_secret_value(),
                },
                indent=2,
            ),
        )

    @classmethod
    def load(cls, path: Path) -> Credentials | None:
        try:
            return cls.model_validate_json(path.read_text())
        except (OSError, ValidationError):
            return None


class SecureEndpoints(BaseModel):
    """Every address, file and credential of a running secured stack."""

    model_config = ConfigDict(frozen=True)

    home: Path
    kafka_bootstrap: str
    """SASL_SSL listener (SCRAM-SHA-256, SCRAM-SHA-512, PLAIN)."""
    kafka_mtls_bootstrap: str
    """SSL listener that requires a client certificate; the principal is its CN."""
    kafka_anonymous_bootstrap: str | None
    """Plaintext, ``User:ANONYMOUS``; only when the stack was made with it (tests)."""
    redis_address: str
    """host:port of the TLS-only Redis."""
    mlflow_uri: str
    ca_file: Path
    """The CA every server's certificate chains to."""
    other_ca_file: Path
    """An unrelated CA: trusting it instead must fail the TLS handshake."""
    client_cert: Path
    """Client certificate, CN=worker, from the CA (mTLS)."""
    client_key: Path
    stranger_cert: Path
    """Client certificate, CN=worker too, from the other CA: servers must refuse it."""
    stranger_key: Path
    kafka_passwords: dict[str, SecretStr]
    redis_passwords: dict[str, SecretStr]
    mlflow_passwords: dict[str, SecretStr]

    # -- Kafka ----------------------------------------------------------------
    def kafka_config(
        self, user: str = "worker", mechanism: Mechanism = "SCRAM-SHA-512"
    ) -> dict[str, Any]:
        """aiokafka keywords (``bootstrap_servers`` included) for ``user`` over SASL_SSL."""
        return {
            "bootstrap_servers": self.kafka_bootstrap,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": mechanism,
            "sasl_plain_username": user,
            "sasl_plain_password": self.kafka_passwords[user].get_secret_value(),
            "ssl_context": ssl.create_default_context(cafile=str(self.ca_file)),
        }

    def kafka_mtls_config(self) -> dict[str, Any]:
        """aiokafka keywords for the mTLS listener with the CA's client certificate."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return {
            "bootstrap_servers": self.kafka_mtls_bootstrap,
            "security_protocol": "SSL",
            "ssl_context": context,
        }

    def acl_admin(self) -> AclAdmin:
        """An :class:`AclAdmin` connected as ``admin`` (``async with``)."""
        return AclAdmin(self.kafka_config("admin"))

    # -- Redis and MLflow -----------------------------------------------------
    def redis_url(self, user: str = "worker", db: int = 0) -> str:
        password = self.redis_passwords[user].get_secret_value()
        return f"rediss://{user}:{password}@{self.redis_address}/{db}"

    def redis_tls(self) -> dict[str, str]:
        """redis-py keywords that trust the stack's CA."""
        return {"ssl_ca_certs": str(self.ca_file)}

    def mlflow_credentials(self, user: str = "worker") -> tuple[str, str]:
        return user, self.mlflow_passwords[user].get_secret_value()

    # -- the environment of a process -------------------------------------------
    def env_for(
        self,
        principal: str = "worker",
        *,
        mechanism: Mechanism = "SCRAM-SHA-512",
        mtls: bool = False,
    ) -> dict[str, str]:
        """The variables (the contract's names) that make a process ``principal``.

        Kafka over SASL_SSL with ``mechanism``, or with ``mtls`` over the certificate
        listener (only ``worker``: the client certificate's CN). Redis and MLflow variables
        only for principals that have a user there (``admin``, ``worker``).
        """
        if principal not in self.kafka_passwords:
            raise StackError(
                f"no principal {principal!r}: choose one of {sorted(self.kafka_passwords)}"
            )
        env: dict[str, str]
        if mtls:
            if principal != "worker":
                raise StackError("the mTLS client certificate is the worker's (CN=worker)")
            env = {
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka_mtls_bootstrap,
                "KAFKA_SECURITY_PROTOCOL": "SSL",
                "KAFKA_SSL_CAFILE": str(self.ca_file),
                "KAFKA_SSL_CERTFILE": str(self.client_cert),
                "KAFKA_SSL_KEYFILE": str(self.client_key),
            }
        else:
            env = {
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
                "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "KAFKA_SASL_MECHANISM": mechanism,
                "KAFKA_SASL_USERNAME": principal,
                "KAFKA_SASL_PASSWORD": self.kafka_passwords[principal].get_secret_value(),
                "KAFKA_SSL_CAFILE": str(self.ca_file),
            }
        if principal in self.redis_passwords:
            env["REDIS_URL"] = self.redis_url(principal)
            env["REDIS_SSL_CAFILE"] = str(self.ca_file)
        if principal in self.mlflow_passwords:
            username, password = self.mlflow_credentials(principal)
            env["MLFLOW_TRACKING_URI"] = self.mlflow_uri
            env["MLFLOW_TRACKING_USERNAME"] = username
            env["MLFLOW_TRACKING_PASSWORD"] = password
        return env

    def export_lines(self, principal: str = "worker", **options: Any) -> str:
        """``env_for`` as shell ``export`` lines (for ``eval "$(... stack env --secure)"``)."""
        return "\n".join(
            f"export {name}={shlex.quote(value)}"
            for name, value in self.env_for(principal, **options).items()
        )


class SecureStack:
    """The secured Kafka, Redis and MLflow under ``home``, for the topic and model names
    of ``settings``.

    ``jars`` is a folder of cached broker jars to link instead of fetching (the plaintext
    stack's ``.state/kafka/libs``), filled first by ``fetch_jars`` if given.
    ``anonymous_listener`` adds the plaintext ``User:ANONYMOUS`` listener (off in
    ``stack up --secure``).
    """

    def __init__(
        self,
        home: Path,
        settings: Settings | None = None,
        *,
        jars: Path | None = None,
        fetch_jars: Callable[[], None] | None = None,
        anonymous_listener: bool = False,
    ) -> None:
        self.home = home.resolve()
        self.settings = settings or Settings()
        self.jars = jars
        self.fetch_jars = fetch_jars
        self.anonymous_listener = anonymous_listener
        self.ports_file = self.home / "ports.json"
        self.credentials_file = self.home / "credentials.json"

    # -- the pieces, from the files ---------------------------------------------
    def _ports(self) -> SecurePorts:
        return SecurePorts.load_or_choose(self.ports_file, self.anonymous_listener)

    def _credentials(self) -> Credentials:
        """The stack's passwords; made on first use, and then every server's state that
        holds the old ones (Kafka's SCRAM users, MLflow's user database) is made anew."""
        held = Credentials.load(self.credentials_file)
        if held is not None:
            return held
        shutil.rmtree(self.home / "kafka" / "data", ignore_errors=True)
        (self.home / "mlflow" / "basic_auth.db").unlink(missing_ok=True)
        made = Credentials.make()
        made.save(self.credentials_file)
        return made

    def _certificates(self) -> DevCertificates:
        return ensure_certificates(self.home)

    def exists(self) -> bool:
        """Whether a stack was made here (its ports and credentials chosen)."""
        return self.ports_file.is_file() and self.credentials_file.is_file()

    def _servers(self, create: bool = True) -> tuple[KafkaBroker, RedisServer, MlflowServer]:
        """The three servers; ``create=False`` (to stop or inspect them) never makes new
        credentials, so it never drops a running broker's data: without the file the
        probes just fail to log in."""
        credentials = (
            self._credentials()
            if create
            else Credentials.load(self.credentials_file) or Credentials.make()
        )
        ports, certs = self._ports(), self._certificates()
        hint = f"stop it, or delete {self.ports_file} to choose new ports"
        broker = KafkaBroker(
            self.home,
            HOST,
            ports.kafka,
            ports.kafka_controller,
            KAFKA_HEAP,
            security=BrokerSecurity(
                ssl_port=ports.kafka_mtls,
                internal_port=ports.kafka_internal,
                anonymous_port=ports.kafka_anonymous if self.anonymous_listener else None,
                ca_file=certs.ca,
                keystore=certs.broker.bundle,
                users=credentials.kafka,
            ),
            port_hint=hint,
        )
        redis = RedisServer(
            self.home,
            HOST,
            ports.redis,
            "",
            security=RedisSecurity(
                cert=certs.server.cert,
                key=certs.server.key,
                ca_file=certs.ca,
                users={
                    "admin": RedisUser(
                        password=credentials.redis["admin"], rules=ADMIN_REDIS_RULES
                    ),
                    "worker": RedisUser(
                        password=credentials.redis["worker"], rules=WORKER_REDIS_RULES
                    ),
                },
            ),
            port_hint=hint,
        )
        mlflow = MlflowServer(
            self.home / "mlflow",
            ports.mlflow,
            auth=MlflowAuth(
                admin_password=credentials.mlflow["admin"],
                secret_key=credentials.mlflow_secret_key,
                users={"worker": credentials.mlflow["worker"]},
                grants=(
                    MlflowGrant(
                        username="worker",
                        resource_id=self.settings.model_name,
                        permission="EDIT",
                    ),
                ),
            ),
            detached=True,
            port_hint=hint,
        )
        return broker, redis, mlflow

    def endpoints(self) -> SecureEndpoints:
        """The addresses and credentials (whether or not the servers run now)."""
        ports, credentials, certs = self._ports(), self._credentials(), self._certificates()
        anonymous = ports.kafka_anonymous if self.anonymous_listener else None
        return SecureEndpoints(
            home=self.home,
            kafka_bootstrap=f"{HOST}:{ports.kafka}",
            kafka_mtls_bootstrap=f"{HOST}:{ports.kafka_mtls}",
            kafka_anonymous_bootstrap=f"{HOST}:{anonymous}" if anonymous else None,
            redis_address=f"{HOST}:{ports.redis}",
            mlflow_uri=f"http://{HOST}:{ports.mlflow}",
            ca_file=certs.ca,
            other_ca_file=certs.other_ca,
            client_cert=certs.client.cert,
            client_key=certs.client.key,
            stranger_cert=certs.stranger.cert,
            stranger_key=certs.stranger.key,
            kafka_passwords=credentials.kafka,
            redis_passwords=credentials.redis,
            mlflow_passwords=credentials.mlflow,
        )

    # -- what each principal is allowed ------------------------------------------
    def kafka_acls(self) -> dict[str, list[KafkaAcl]]:
        """The ACLs each principal gets at start (``admin`` is a super user, ``nobody``
        has none)."""
        return {
            "User:worker": worker_acls(self.settings, "prefixed"),
            "User:client": client_acls(self.settings),
            "User:nobody": [],
        }

    async def apply_kafka_acls(self, endpoints: SecureEndpoints) -> None:
        """Make each principal's ACLs exactly :meth:`kafka_acls` (grant what is missing,
        revoke what is extra, e.g. what a test took away or added)."""
        async with endpoints.acl_admin() as admin:
            for principal, wanted in self.kafka_acls().items():
                held = await admin.granted(principal)
                await admin.revoke(principal, held - set(wanted))
                await admin.grant(principal, [acl for acl in wanted if acl not in held])

    async def create_service_topics(self, endpoints: SecureEndpoints) -> list[str]:
        """Create the inputs and outputs as ``admin`` (the worker creates only its own
        ``{group}-`` topics); returns the names created."""
        internal = set(internal_topics(self.settings.consumer_group).values())
        wanted = [t for t in service_topics(self.settings) if t.name not in internal]
        admin = AIOKafkaAdminClient(**endpoints.kafka_config("admin"), request_timeout_ms=10000)
        await admin.start()
        try:
            present = set(await admin.list_topics())
            missing = [t for t in wanted if t.name not in present]
            if missing:
                response = await admin.create_topics(
                    [NewTopic(t.name, t.partitions, 1, topic_configs=t.configs) for t in missing]
                )
                for name, code, message in response.topic_errors:
                    if code not in (0, TopicAlreadyExistsError.errno):
                        raise StackError(f"kafka: cannot create topic {name}: {message} ({code})")
            return [t.name for t in missing]
        finally:
            await admin.close()

    # -- lifecycle ------------------------------------------------------------------
    def _link_jars(self, broker: KafkaBroker) -> None:
        if self.jars is None or broker.libs.exists() or broker.libs.is_symlink():
            return
        if self.fetch_jars is not None:
            self.fetch_jars()
        if not self.jars.is_dir():
            return  # the broker fetches its own
        broker.home.mkdir(parents=True, exist_ok=True)
        broker.libs.symlink_to(self.jars.resolve(), target_is_directory=True)

    def up(self) -> list[ComponentStatus]:
        """Start what is not running (MLflow beside Kafka: both take a while), then set
        the ACLs and create the topics. A second ``up`` is a no-op but for the ACLs."""
        broker, redis, mlflow = self._servers()
        self._require_free_ports(broker, redis, mlflow)
        self._link_jars(broker)
        timings: dict[str, tuple[bool, float]] = {}

        def timed(name: str, start: Callable[[], bool]) -> None:
            began = time.monotonic()
            started = start()
            timings[name] = (started, time.monotonic() - began)

        with ThreadPoolExecutor(max_workers=1) as pool:
            slow = pool.submit(timed, "mlflow", mlflow.start_once)
            try:
                timed("redis", redis.start)
                timed("kafka", broker.start)
                began = time.monotonic()
                self._prepare_kafka(self.endpoints())
                started, took = timings["kafka"]
                timings["kafka"] = (started, took + time.monotonic() - began)
            except BaseException:
                slow.exception()  # let MLflow's start end; Kafka's or Redis' error is the news
                raise
            slow.result()
        return [
            self._status(name, server, address, *timings[name])
            for name, server, address in self._components(broker, redis, mlflow)
        ]

    def _require_free_ports(
        self, broker: KafkaBroker, redis: RedisServer, mlflow: MlflowServer
    ) -> None:
        """Refuse before starting anything: a port taken by another process would
        otherwise be found only after the slow MLflow start."""
        hint = f"stop it, or delete {self.ports_file} to choose new ports"
        wanted = []
        if broker.pid() is None:
            extra = broker.security.ports() if broker.security is not None else []
            wanted += [broker.port, broker.controller_port, *extra]
        if redis.pid() is None:
            wanted.append(redis.port)
        if mlflow.pid() is None:
            wanted.append(mlflow.port)
        for port in wanted:
            require_free_port(HOST, port, hint)

    def _prepare_kafka(self, endpoints: SecureEndpoints) -> None:
        async def both() -> None:
            await self.apply_kafka_acls(endpoints)
            await self.create_service_topics(endpoints)

        try:
            asyncio.run(both())
        except (KafkaError, OSError, TimeoutError) as exc:
            raise StackError(
                f"kafka: could not set the ACLs or create the topics: {exc!r}"
            ) from exc

    def start(self) -> SecureEndpoints:
        """:meth:`up`, then every address and credential."""
        self.up()
        return self.endpoints()

    def down(self) -> list[ComponentStatus]:
        """Stop every server (Kafka first, so it can flush cleanly)."""
        if not self.ports_file.exists():
            return [
                ComponentStatus(name=name, address="-", pid=None, ready=False, action="not running")
                for name in ("kafka", "redis", "mlflow")
            ]
        broker, redis, mlflow = self._servers(create=False)
        out = []
        for name, server, address in self._components(broker, redis, mlflow):
            stopped = server.stop()
            out.append(
                ComponentStatus(
                    name=name,
                    address=address,
                    pid=None,
                    ready=False,
                    action="stopped" if stopped else "not running",
                )
            )
        return out

    stop = down

    def status(self) -> list[ComponentStatus]:
        if not self.ports_file.exists():
            return [
                ComponentStatus(name=name, address="-", pid=None, ready=False)
                for name in ("kafka", "redis", "mlflow")
            ]
        broker, redis, mlflow = self._servers(create=False)
        return [
            ComponentStatus(name=name, address=address, pid=server.pid(), ready=server.ready())
            for name, server, address in self._components(broker, redis, mlflow)
        ]

    def _components(
        self, broker: KafkaBroker, redis: RedisServer, mlflow: MlflowServer
    ) -> Iterable[tuple[Component, Any, str]]:
        return (
            ("kafka", broker, broker.bootstrap),
            ("redis", redis, f"{HOST}:{redis.port}"),
            ("mlflow", mlflow, mlflow.uri),
        )

    @staticmethod
    def _status(
        name: Component, server: Any, address: str, started: bool, took: float
    ) -> ComponentStatus:
        return ComponentStatus(
            name=name,
            address=address,
            pid=server.pid(),
            ready=server.ready(),
            action="started" if started else "already running",
            seconds=took if started else None,
        )

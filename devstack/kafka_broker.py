"""A single-node Apache Kafka 4 broker in KRaft mode, from Maven Central jars, on Java 17.

Plaintext by default (``stack up``). With a :class:`BrokerSecurity` the same broker runs
secured (``stack up --secure``): TLS on every listener, SCRAM users written into the
metadata log at storage format, and the StandardAuthorizer with no access unless an ACL
grants it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import shutil
import ssl
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from devstack.errors import StackError
from devstack.probes import kafka_ready
from devstack.supervisor import Supervised, require_free_port

KAFKA_FILES = Path(__file__).resolve().parent / "kafka"
POM = KAFKA_FILES / "pom.xml"
LOG4J_CONFIG = KAFKA_FILES / "log4j2.properties"
MIN_JAVA = 17
LOOPBACK = {"localhost", "127.0.0.1"}


def java_major_version() -> int:
    """The major version of ``java`` on PATH; StackError when it is missing."""
    java = shutil.which("java")
    if java is None:
        raise StackError(
            "java not found: install a Java 17+ runtime "
            "(Debian: apt-get install openjdk-17-jre-headless)"
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        raise StackError(f"could not read the Java version from: {out.strip()[:120]}")
    major = int(match.group(1))
    # Java 8 and older report themselves as 1.x.
    return int(match.group(2) or 0) if major == 1 else major


SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
SASL_MECHANISMS = (*SCRAM_MECHANISMS, "PLAIN")
#: Kafka's minimum is 4096; the client pays this once per connection.
SCRAM_ITERATIONS = 8192
#: The broker's own principal: the CN of its certificate (devstack/certs.py).
BROKER_PRINCIPAL = "broker"
ADMIN_USER = "admin"
STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
#: ``CN=worker`` becomes ``User:worker`` on the TLS listeners.
CN_PRINCIPAL_RULES = "RULE:^CN=([^,]+)$/$1/,DEFAULT"


def new_cluster_id(random_uuid: Callable[[], uuid.UUID] = uuid.uuid4) -> str:
    """A KRaft cluster id: a random UUID in URL-safe base64, drawn again when it would start
    with ``-``, as Kafka's own ``Uuid.randomUuid`` does. ``kafka-storage format -t`` reads
    such an id as an option and fails (about one format in 64 before this)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(random_uuid().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def scram_credential(mechanism: str, name: str, password: str) -> str:
    """The ``--add-scram`` value for ``kafka-storage format``, in its salted form, so the
    password itself never appears on a command line (``ps`` shows those to everyone)."""
    algorithm = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}[mechanism]
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac(algorithm, password.encode(), salt, SCRAM_ITERATIONS)
    b64 = base64.b64encode
    return (
        f"{mechanism}=[name={name},iterations={SCRAM_ITERATIONS},"
        f'salt="{b64(salt).decode()}",saltedpassword="{b64(salted).decode()}"]'
    )


class BrokerSecurity(BaseModel):
    """How a secured broker listens and whom it knows.

    Listeners, all on loopback:

    - ``SASL_SSL`` (the broker's ``port``, its bootstrap address): SCRAM-SHA-256,
      SCRAM-SHA-512 and PLAIN over TLS; the principal is the SASL user name.
    - ``SSL`` (``ssl_port``): TLS with a required client certificate; the principal is the
      certificate's CN.
    - ``INTERNAL`` (``internal_port``): the inter-broker listener, TLS with the broker's
      own certificate as client certificate (``User:broker``).
    - ``CONTROLLER`` (the broker's ``controller_port``): KRaft, the same mutual TLS. A
      plaintext controller listener would make its anonymous principal a super user that
      any local process could act as.
    - ``ANONYMOUS`` (``anonymous_port``, off unless set): plaintext, ``User:ANONYMOUS``,
      which has no access unless granted. Only for checking an ACL set with a client that
      speaks no TLS; never in ``stack up --secure``.
    """

    model_config = ConfigDict(frozen=True)

    ssl_port: int
    internal_port: int
    anonymous_port: int | None = None
    ca_file: Path
    """The CA the broker trusts for client certificates (and clients trust for it)."""
    keystore: Path
    """PEM with the broker's key and certificate chain (``LeafFiles.bundle``)."""
    users: dict[str, SecretStr]
    """SCRAM (and PLAIN) users and their passwords; must include ``admin``."""
    super_users: tuple[str, ...] = (ADMIN_USER, BROKER_PRINCIPAL)

    def ports(self) -> list[int]:
        listed = [self.ssl_port, self.internal_port, self.anonymous_port]
        return [p for p in listed if p is not None]

    def admin_password(self) -> str:
        return self.users[ADMIN_USER].get_secret_value()

    def client_config(self, user: str = ADMIN_USER) -> dict[str, Any]:
        """aiokafka keyword arguments for ``user`` on the SASL_SSL listener."""
        return {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": user,
            "sasl_plain_password": self.users[user].get_secret_value(),
            "ssl_context": ssl.create_default_context(cafile=str(self.ca_file)),
        }

    def listener_lines(self, host: str, port: int, controller_port: int) -> list[str]:
        """The listener, TLS, SASL and authorizer lines of ``server.properties``."""
        named = {
            "SASL_SSL": port,
            "SSL": self.ssl_port,
            "INTERNAL": self.internal_port,
        }
        protocols = ["CONTROLLER:SSL", "SASL_SSL:SASL_SSL", "SSL:SSL", "INTERNAL:SSL"]
        if self.anonymous_port is not None:
            named["ANONYMOUS"] = self.anonymous_port
            protocols.append("ANONYMOUS:PLAINTEXT")
        advertised = ",".join(f"{name}://{host}:{port}" for name, port in named.items())
        plain_users = " ".join(
            f'user_{name}="{password.get_secret_value()}"' for name, password in self.users.items()
        )
        lines = [
            f"listeners={advertised},CONTROLLER://{host}:{controller_port}",
            f"advertised.listeners={advertised}",
            "controller.listener.names=CONTROLLER",
            f"listener.security.protocol.map={','.join(protocols)}",
            "inter.broker.listener.name=INTERNAL",
            # One PEM keystore and truststore for every TLS listener (Kafka reads PEM).
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={self.keystore}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={self.ca_file}",
            "ssl.endpoint.identification.algorithm=https",
            f"ssl.principal.mapping.rules={CN_PRINCIPAL_RULES}",
            "listener.name.ssl.ssl.client.auth=required",
            "listener.name.internal.ssl.client.auth=required",
            "listener.name.controller.ssl.client.auth=required",
            f"listener.name.sasl_ssl.sasl.enabled.mechanisms={','.join(SASL_MECHANISMS)}",
            *(
                f"listener.name.sasl_ssl.{m.lower()}.sasl.jaas.config="
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                for m in SCRAM_MECHANISMS
            ),
            "listener.name.sasl_ssl.plain.sasl.jaas.config="
            f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain_users};",
            f"authorizer.class.name={STANDARD_AUTHORIZER}",
            "allow.everyone.if.no.acl.found=false",
            f"super.users={';'.join(f'User:{name}' for name in self.super_users)}",
            # Topics exist because someone allowed to create them did: never as a side
            # effect of a metadata request or a produce.
            "auto.create.topics.enable=false",
        ]
        return lines

    def scram_arguments(self) -> list[str]:
        """``--add-scram`` arguments for every user and both SCRAM mechanisms."""
        out = []
        for name, password in self.users.items():
            for mechanism in SCRAM_MECHANISMS:
                value = scram_credential(mechanism, name, password.get_secret_value())
                out += ["--add-scram", value]
        return out


class KafkaBroker:
    """Fetch, format and run one KRaft broker+controller under ``state_dir/kafka``.

    ``port`` is the client listener: PLAINTEXT, or SASL_SSL with ``security``.
    """

    def __init__(
        self,
        state_dir: Path,
        host: str,
        port: int,
        controller_port: int,
        heap: str,
        security: BrokerSecurity | None = None,
        port_hint: str = "choose other ports with KAFKA_BOOTSTRAP_SERVERS / KAFKA_CONTROLLER_PORT",
    ) -> None:
        if host not in LOOPBACK:
            raise StackError(
                f"the local stack runs Kafka on loopback only; KAFKA_BOOTSTRAP_SERVERS names {host}"
            )
        self.home = state_dir.resolve() / "kafka"
        self.host = "127.0.0.1"
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.security = security
        self.port_hint = port_hint
        self.libs = self.home / "libs"
        self.data = self.home / "data"
        self.logs = self.home / "logs"
        self.config = self.home / "server.properties"
        self.process = Supervised.server("kafka", self.home)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    # -- jars ---------------------------------------------------------------
    def _pom_digest(self) -> str:
        return hashlib.sha256(POM.read_bytes()).hexdigest()

    def jars_cached(self) -> bool:
        marker = self.libs / ".pom-sha256"
        return marker.is_file() and marker.read_text().strip() == self._pom_digest()

    def fetch_jars(self) -> None:
        """Copy the broker's runtime jars from Maven Central once per pom version."""
        if self.jars_cached():
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StackError(
                "mvn not found: Maven fetches the Kafka jars (Debian: apt-get install maven)"
            )
        staging = self.home / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        result = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
            raise StackError(f"mvn could not fetch the Kafka jars: {tail[0][:200]}")
        (staging / ".pom-sha256").write_text(self._pom_digest())
        shutil.rmtree(self.libs, ignore_errors=True)
        staging.rename(self.libs)

    # -- storage ------------------------------------------------------------
    def _listener_lines(self) -> list[str]:
        if self.security is not None:
            return self.security.listener_lines(self.host, self.port, self.controller_port)
        return [
            f"listeners=PLAINTEXT://{self.host}:{self.port},"
            f"CONTROLLER://{self.host}:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://{self.host}:{self.port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            "auto.create.topics.enable=true",
        ]

    def render_config(self) -> str:
        """The ``server.properties`` text (it holds the PLAIN passwords when secured)."""
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{self.host}:{self.controller_port}",
                *self._listener_lines(),
                f"log.dirs={self.data}",
                # One node: every internal topic has a single replica.
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=4",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                # Tests and the demo create groups constantly; don't wait 3 s each time.
                "group.initial.rebalance.delay.ms=0",
                "num.partitions=1",
                "log.retention.hours=24",
                "",
            ]
        )

    def _write_config(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.config.unlink(missing_ok=True)
        # Created private: a secured broker's file carries the PLAIN users' passwords.
        fd = os.open(self.config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.render_config())

    def _java(self, main_class: str, *args: str, heap: str = "256m") -> list[str]:
        return [
            "java",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.logs}",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp",
            f"{self.libs}/*",
            main_class,
            *args,
        ]

    def format_storage(self) -> None:
        """Format the KRaft metadata log once; an existing one is kept (data survives)."""
        if (self.data / "meta.properties").exists():
            return
        cluster_id = new_cluster_id()
        # SCRAM users can only be created through the metadata log, so a secured broker
        # gets them here, before it first starts (no window without them).
        scram = self.security.scram_arguments() if self.security is not None else []
        result = subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(self.config),
                *scram,
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"kafka storage format failed: {result.stdout + result.stderr}"[:300])

    # -- lifecycle ----------------------------------------------------------
    def pid(self) -> int | None:
        return self.process.pid()

    def client_config(self, user: str = ADMIN_USER) -> dict[str, Any]:
        """aiokafka keyword arguments to reach the client listener (as ``user`` if secured)."""
        return self.security.client_config(user) if self.security is not None else {}

    def ready(self) -> bool:
        return kafka_ready(self.bootstrap, security=self.client_config())

    def start(self, timeout: float = 90.0) -> bool:
        """Start and wait for metadata answers; False when it was already running."""
        if self.pid() is not None:
            return False
        if java_major_version() < MIN_JAVA:
            raise StackError(f"Kafka 4 needs Java {MIN_JAVA}+, found {java_major_version()}")
        extra = self.security.ports() if self.security is not None else []
        for port in (self.port, self.controller_port, *extra):
            require_free_port(self.host, port, self.port_hint)
        self.fetch_jars()
        self._write_config()
        self.format_storage()
        self.logs.mkdir(parents=True, exist_ok=True)
        self.process.start(self._java("kafka.Kafka", str(self.config), heap=self.heap))
        self.process.wait_until(self.ready, timeout, "metadata requests")
        return True

    def stop(self) -> bool:
        return self.process.stop(timeout=45)

"""A single-node Apache Kafka 4 broker in KRaft mode, from Maven Central jars, on Java 17."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
import uuid
from pathlib import Path

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


class KafkaBroker:
    """Fetch, format and run one KRaft broker+controller under ``state_dir/kafka``."""

    def __init__(
        self, state_dir: Path, host: str, port: int, controller_port: int, heap: str
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
    def _write_config(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@{self.host}:{self.controller_port}",
                    f"listeners=PLAINTEXT://{self.host}:{self.port},"
                    f"CONTROLLER://{self.host}:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://{self.host}:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
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
                    "auto.create.topics.enable=true",
                    "log.retention.hours=24",
                    "",
                ]
            )
        )

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
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(
            self._java(
                "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self.config)
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

    def ready(self) -> bool:
        return kafka_ready(self.bootstrap)

    def start(self, timeout: float = 90.0) -> bool:
        """Start and wait for metadata answers; False when it was already running."""
        if self.pid() is not None:
            return False
        if java_major_version() < MIN_JAVA:
            raise StackError(f"Kafka 4 needs Java {MIN_JAVA}+, found {java_major_version()}")
        for port in (self.port, self.controller_port):
            require_free_port(
                self.host,
                port,
                "choose other ports with KAFKA_BOOTSTRAP_SERVERS / KAFKA_CONTROLLER_PORT",
            )
        self.fetch_jars()
        self._write_config()
        self.format_storage()
        self.logs.mkdir(parents=True, exist_ok=True)
        self.process.start(self._java("kafka.Kafka", str(self.config), heap=self.heap))
        self.process.wait_until(self.ready, timeout, "metadata requests")
        return True

    def stop(self) -> bool:
        return self.process.stop(timeout=45)

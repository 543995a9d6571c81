"""The secured stack (``stack up --secure``) against real servers: who gets in, and how
quickly everyone else is turned away.

One secured Kafka, Redis and MLflow for the whole module, on free ports with their state
under tmp (the broker reuses the shared stack's cached jars), stopped at the end. Every
refusal must be an error within seconds, never a hang.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import shlex
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)

from devstack.kafka_acls import KafkaAcl, Operation, Resource, client_acls, worker_acls
from devstack.local_stack import LocalStack
from devstack.secure_stack import SecureEndpoints, SecureStack
from devstack.supervisor import free_port
from devstack.topics import run_names
from devstack.worker import REPO, WorkerProcess, http_get, settings_env
from schemas.features import MATCHES_FILE
from streams.metrics import Metrics
from streams.settings import Settings
from streams.sinks.redis_latest import LatestValue, RedisLatestSink
from tests.harness import run_command

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
#: A refusal slower than this is a hang as far as a worker's start-up is concerned.
FAST = 5.0
STARTUP: dict[str, float] = {}


@dataclass(frozen=True)
class Secured:
    stack: SecureStack
    endpoints: SecureEndpoints
    settings: Settings


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    root = tmp_path_factory.mktemp("secure-stack")
    settings = Settings(**run_names(f"s{uuid.uuid4().hex[:8]}"), state_dir=root)
    # The shared stack's jars, as tests/integration/test_faults.py's private broker does.
    stack = SecureStack(
        root / "secure",
        settings,
        jars=LocalStack(Settings()).kafka.libs,
    )
    began = time.monotonic()
    try:
        endpoints = stack.start()
        STARTUP["seconds"] = time.monotonic() - began
        yield Secured(stack, endpoints, settings)
    finally:
        stack.stop()


async def _within(awaitable: Awaitable[Any], seconds: float = 30.0) -> tuple[Any, float]:
    began = time.monotonic()
    result = await asyncio.wait_for(awaitable, seconds)
    return result, time.monotonic() - began


async def _refusal(awaitable: Awaitable[Any]) -> tuple[BaseException, float]:
    """The exception ``awaitable`` raises, and how long it took; fails if it succeeds."""
    began = time.monotonic()
    try:
        await asyncio.wait_for(awaitable, 30)
    except (KafkaError, OSError) as exc:
        return exc, time.monotonic() - began
    raise AssertionError("expected a refusal")


async def _produce(
    config: dict[str, Any], topic: str, values: list[bytes], keys: list[bytes] | None = None
) -> None:
    producer = AIOKafkaProducer(**config, acks="all", request_timeout_ms=10000)
    try:
        await producer.start()
        for value, key in zip(values, keys or [b"k"] * len(values), strict=True):
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def _read_all(
    config: dict[str, Any], topic: str, want: int, until: bytes | None = None
) -> list[bytes]:
    """Read ``topic`` from its beginning until ``want`` records (or ``until``) arrived."""
    consumer = AIOKafkaConsumer(
        topic, **config, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    got: list[bytes] = []
    try:
        await consumer.start()
        deadline = time.monotonic() + 20
        while len(got) < want and until not in got and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                got += [r.value for r in records]
    finally:
        await consumer.stop()
    return got


async def _letters_about(config: dict[str, Any], topic: str, payload: str) -> list[dict]:
    """The dead letters on ``topic`` whose payload is ``payload`` (read for up to 20 s)."""
    consumer = AIOKafkaConsumer(
        topic, **config, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    found: list[dict] = []
    try:
        await consumer.start()
        deadline = time.monotonic() + 20
        while not found and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for record in records:
                    # Other tests of the module write raw bytes to this topic too.
                    with contextlib.suppress(ValueError, TypeError):
                        letter = json.loads(record.value)
                        if isinstance(letter, dict) and letter.get("payload") == payload:
                            found.append(letter)
    finally:
        await consumer.stop()
    return found


async def _ensure_topic(config: dict[str, Any], name: str) -> None:
    admin = AIOKafkaAdminClient(**config, request_timeout_ms=10000)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(name, 1, 1)])
        for _topic, code, message in response.topic_errors:
            assert code in (0, TopicAlreadyExistsError.errno), message
    finally:
        await admin.close()


def _log_mentions(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)


# -- Kafka ------------------------------------------------------------------------------


def test_start_up_time_is_reported(secured: Secured) -> None:
    print(f"\nsecured stack started in {STARTUP['seconds']:.1f}s")
    statuses = secured.stack.status()
    assert [s.name for s in statuses] == ["kafka", "redis", "mlflow"]
    assert all(s.ready and s.pid for s in statuses), statuses


async def test_broker_holds_exactly_the_declared_acls(secured: Secured) -> None:
    async with secured.endpoints.acl_admin() as admin:
        assert await admin.granted("User:worker") == set(worker_acls(secured.settings))
        assert await admin.granted("User:client") == set(client_acls(secured.settings))
        assert await admin.granted("User:nobody") == set()


async def test_the_main_flow_passes_the_acls(secured: Secured) -> None:
    """client → inputs; worker reads them in its group, commits, writes an output and
    fetches its group's offsets (the lag monitor); client reads the output."""
    e, s = secured.endpoints, secured.settings
    await _produce(e.kafka_config("client"), s.match_requests_topic, [b"q1", b"q2"])

    consumer = AIOKafkaConsumer(
        s.match_requests_topic,
        **e.kafka_config("worker"),
        group_id=s.consumer_group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        got: list[bytes] = []
        async with asyncio.timeout(30):
            while len(got) < 2:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    got += [r.value for r in records]
        await consumer.commit()
    finally:
        await consumer.stop()
    assert sorted(got) == [b"q1", b"q2"]

    await _produce(e.kafka_config("worker"), s.predictions_topic, [b"answer"])
    admin = AIOKafkaAdminClient(**e.kafka_config("worker"), request_timeout_ms=10000)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(s.consumer_group)
    finally:
        await admin.close()
    assert sum(meta.offset for meta in offsets.values()) == 2
    assert await _read_all(e.kafka_config("client"), s.predictions_topic, 1) == [b"answer"]


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"])
async def test_each_mechanism_produces_and_consumes(secured: Secured, mechanism: str) -> None:
    """The worker creates a ``{group}-`` topic of its own (prefixed Create), writes, reads
    (the scores topic: the results topic must have the inputs' partitions)."""
    config = secured.endpoints.kafka_config("worker", mechanism)  # type: ignore[arg-type]
    topic = secured.settings.scores_topic
    await _ensure_topic(config, topic)
    value = f"via {mechanism}".encode()
    await _produce(config, topic, [value])
    assert value in await _read_all(config, topic, 100, until=value)


async def test_a_topic_without_an_acl_is_refused_naming_it(secured: Secured) -> None:
    e, s = secured.endpoints, secured.settings
    cases = [
        ("client", s.results_topic, "produce"),
        ("worker", s.livescores_topic, "produce"),
        ("client", s.match_requests_topic, "read"),
        ("nobody", s.predictions_topic, "produce"),
    ]
    for who, topic, action in cases:
        config = e.kafka_config(who)
        attempt = (
            _produce(config, topic, [b"x"]) if action == "produce" else _read_all(config, topic, 1)
        )
        error, took = await _refusal(attempt)
        assert isinstance(error, TopicAuthorizationFailedError), (who, topic, error)
        assert topic in str(error) and took < FAST, (who, str(error), took)


async def test_a_group_without_an_acl_is_refused(secured: Secured) -> None:
    e, s = secured.endpoints, secured.settings
    consumer = AIOKafkaConsumer(
        s.match_requests_topic, **e.kafka_config("worker"), group_id=f"{s.consumer_group}-other"
    )

    async def join() -> None:
        try:
            await consumer.start()
            await consumer.getmany(timeout_ms=5000)
        finally:
            await consumer.stop()

    error, took = await _refusal(join())
    assert isinstance(error, GroupAuthorizationFailedError), error
    assert took < FAST


async def test_a_revoked_acl_is_refused_until_restored(secured: Secured) -> None:
    e, s = secured.endpoints, secured.settings
    write = KafkaAcl(
        resource=Resource.TOPIC, name=s.predictions_dlq_topic, operation=Operation.WRITE
    )
    async with e.acl_admin() as admin:
        assert await admin.revoke("User:worker", [write]) == 1
    try:
        error, _ = await _refusal(
            _produce(e.kafka_config("worker"), s.predictions_dlq_topic, [b"x"])
        )
        assert isinstance(error, TopicAuthorizationFailedError)
    finally:
        await secured.stack.apply_kafka_acls(e)  # back to the declared set
    await _produce(e.kafka_config("worker"), s.predictions_dlq_topic, [b"x"])


@pytest.mark.parametrize(
    ("user", "password", "mechanism"),
    [
        ("worker", "not-the-password", "SCRAM-SHA-512"),
        ("nosuchuser", "whatever", "SCRAM-SHA-256"),
        ("worker", "not-the-password", "PLAIN"),
    ],
)
async def test_bad_credentials_fail_authentication_quickly(
    secured: Secured, caplog: pytest.LogCaptureFixture, user: str, password: str, mechanism: str
) -> None:
    config = secured.endpoints.kafka_config("worker", mechanism)  # type: ignore[arg-type]
    config |= {"sasl_plain_username": user, "sasl_plain_password": password}
    with caplog.at_level(logging.ERROR, logger="aiokafka"):
        error, took = await _refusal(_produce(config, secured.settings.predictions_topic, [b"x"]))
    assert isinstance(error, KafkaConnectionError) and took < FAST, (error, took)
    assert _log_mentions(caplog, "SaslAuthenticationFailed"), [
        r.getMessage() for r in caplog.records
    ]


async def test_a_client_trusting_another_ca_fails_the_handshake(
    secured: Secured, caplog: pytest.LogCaptureFixture
) -> None:
    e = secured.endpoints
    config = e.kafka_config("worker") | {
        "ssl_context": ssl.create_default_context(cafile=str(e.other_ca_file))
    }
    with caplog.at_level(logging.ERROR, logger="aiokafka"):
        error, took = await _refusal(_produce(config, secured.settings.predictions_topic, [b"x"]))
    assert isinstance(error, KafkaConnectionError) and took < FAST
    assert _log_mentions(caplog, "CERTIFICATE_VERIFY_FAILED")


async def test_a_plaintext_client_on_the_tls_port_fails_quickly(secured: Secured) -> None:
    config = {"bootstrap_servers": secured.endpoints.kafka_bootstrap}
    error, took = await _refusal(_produce(config, secured.settings.predictions_topic, [b"x"]))
    assert isinstance(error, KafkaConnectionError) and took < FAST


async def test_the_mtls_listener_takes_the_principal_from_the_certificate(
    secured: Secured,
) -> None:
    e, s = secured.endpoints, secured.settings
    config = e.kafka_mtls_config()
    await _produce(config, s.predictions_shadow_topic, [b"by certificate"])  # worker may write
    error, took = await _refusal(_produce(config, s.match_requests_topic, [b"x"]))  # may not
    assert isinstance(error, TopicAuthorizationFailedError) and took < FAST
    server_log = e.home / "kafka" / "logs" / "server.log"
    denied = (
        f"Principal = User:worker is Denied operation = WRITE from host = 127.0.0.1 "
        f"on resource = Topic:LITERAL:{s.match_requests_topic}"
    )
    for _ in range(int(FAST / 0.2)):  # the broker's log is written asynchronously
        if denied in server_log.read_text():
            break
        await asyncio.sleep(0.2)
    assert denied in server_log.read_text()


@pytest.mark.parametrize("certificate", ["none", "stranger"])
async def test_the_mtls_listener_refuses_other_certificates(
    secured: Secured, certificate: str
) -> None:
    e = secured.endpoints
    context = ssl.create_default_context(cafile=str(e.ca_file))
    if certificate == "stranger":
        context.load_cert_chain(str(e.stranger_cert), str(e.stranger_key))
    config = {
        "bootstrap_servers": e.kafka_mtls_bootstrap,
        "security_protocol": "SSL",
        "ssl_context": context,
    }
    error, took = await _refusal(_produce(config, secured.settings.predictions_topic, [b"x"]))
    assert isinstance(error, KafkaConnectionError) and took < FAST


async def test_nobody_sees_no_topic(secured: Secured) -> None:
    admin = AIOKafkaAdminClient(**secured.endpoints.kafka_config("nobody"))
    await admin.start()
    try:
        assert await admin.list_topics() == []
    finally:
        await admin.close()


def _train_as_admin(e: SecureEndpoints, features: Path, state: Path) -> None:
    """A champion in the secured registry, trained and registered as its admin."""
    trained = subprocess.run(
        [sys.executable, "-m", "models", "train", "--synthetic", "800", "--features-dir", features],
        cwd=REPO,
        env={**os.environ, **e.env_for("admin"), "STATE_DIR": str(state)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert trained.returncode == 0, trained.stderr[-2000:]


async def _request_ids(config: dict[str, Any], topic: str, want: int) -> set[str]:
    """The request ids answered on ``topic``, read until ``want`` of them (or 30 s)."""
    consumer = AIOKafkaConsumer(topic, **config, group_id=None, auto_offset_reset="earliest")
    seen: set[str] = set()
    await consumer.start()
    try:
        deadline = time.monotonic() + 30
        while len(seen) < want and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for record in records:
                    with contextlib.suppress(ValueError, TypeError, KeyError):
                        request_id = json.loads(record.value)["request_id"]
                        if request_id:  # livescore answers carry none
                            seen.add(request_id)
    finally:
        await consumer.stop()
    return seen


def _worker_settings(e: SecureEndpoints, s: Settings, root: Path, **env: str) -> Settings:
    """The module's names, connected as ``worker`` the way a deployment is: the variables
    ``env_for`` hands out (SASL_SSL, a TLS Redis URL, MLflow basic auth)."""
    variables = {**e.env_for("worker"), **env}
    known = {k.lower(): v for k, v in variables.items() if k.lower() in Settings.model_fields}
    return Settings(
        **{
            **s.model_dump(),
            **known,
            "features_dir": root / "features",
            "state_dir": root / "worker",
            "web_port": free_port(),
        }
    )


def _secrets(e: SecureEndpoints) -> list[str]:
    return [
        secret.get_secret_value()
        for passwords in (e.kafka_passwords, e.redis_passwords, e.mlflow_passwords)
        for secret in passwords.values()
    ]


async def test_the_worker_runs_as_worker_on_exactly_the_declared_acls(
    secured: Secured, tmp_path: Path
) -> None:
    """The real worker, as principal ``worker`` over SASL_SSL with only ``worker_acls``, a
    TLS Redis ACL user and MLflow basic auth: requests are answered end to end, a malformed
    one becomes a dead letter, a restart carries on, and no secret shows anywhere."""
    e, s = secured.endpoints, secured.settings
    settings = _worker_settings(e, s, tmp_path)
    await asyncio.to_thread(_train_as_admin, e, settings.features_dir, tmp_path / "train")
    frame = pd.read_parquet(settings.features_dir / MATCHES_FILE)
    ids = frame.index if "match_id" not in frame.columns else frame["match_id"]
    matches = [str(i) for i in ids][-4:]

    async def ask(tag: str, match_ids: list[str]) -> None:
        requests = [
            json.dumps({"request_id": f"{tag}{i}", "match_id": m}).encode()
            for i, m in enumerate(match_ids)
        ]
        keys = [m.encode() for m in match_ids]  # the contract's key: the match_id
        await _produce(e.kafka_config("client"), s.match_requests_topic, requests, keys)

    log_path = tmp_path / "worker.log"
    worker = WorkerProcess(settings, log_path).launch()
    pages: list[bytes] = []
    try:
        await asyncio.to_thread(worker.wait_ready, 120)
        await ask("acl", matches[:3])
        await _produce(e.kafka_config("client"), s.match_requests_topic, [b"{not json"])
        answered = await _request_ids(e.kafka_config("client"), s.predictions_topic, 3)
        assert {"acl0", "acl1", "acl2"} <= answered, worker.tail()
        # Earlier tests of the module left non-JSON requests on the topic too (q1, q2).
        ours = await _letters_about(e.kafka_config("client"), s.predictions_dlq_topic, "{not json")
        assert ours and ours[0]["error"]["type"] == "invalid_json", ours
        stored = redis.Redis.from_url(e.redis_url("admin"), **e.redis_tls())
        try:
            assert all(stored.get(s.redis_key(m)) for m in matches[:3])
        finally:
            stored.close()
        for path in ("/", "/status.json", "/model", "/metrics", "/ready"):
            _status, body = await asyncio.to_thread(http_get, worker.base_url + path)
            pages.append(body)
    finally:
        worker.stop()
    worker = WorkerProcess(settings, log_path).launch()  # a restart: same group, same state
    try:
        await asyncio.to_thread(worker.wait_ready, 120)
        await ask("again", matches[3:])
        answered = await _request_ids(e.kafka_config("client"), s.predictions_topic, 4)
        assert "again0" in answered, worker.tail()
    finally:
        worker.stop()
    seen = log_path.read_text() + "\n".join(page.decode() for page in pages)
    for secret in _secrets(e):
        assert secret not in seen
    assert "Authorization" not in seen


async def test_a_principal_missing_an_acl_is_told_which_in_one_line(
    secured: Secured, tmp_path: Path
) -> None:
    """Without its group ACL the consumer would never join (a silent hang); the start-up
    check names the missing rule and exits within seconds instead."""
    e, s = secured.endpoints, secured.settings
    group_read = KafkaAcl(resource=Resource.GROUP, name=s.consumer_group, operation=Operation.READ)
    async with e.acl_admin() as admin:
        await admin.revoke("User:worker", [group_read])
    try:
        began = time.monotonic()
        result = await asyncio.to_thread(run_command, _worker_settings(e, s, tmp_path), "worker")
        took = time.monotonic() - began
    finally:
        async with e.acl_admin() as admin:
            await admin.grant("User:worker", [group_read])
    assert result.returncode == 2, result.stderr[-2000:]
    [line] = result.stderr.strip().splitlines()
    assert f"Read on Group:{s.consumer_group}" in line and "User:worker" in line
    # Seconds when the machine is idle (mostly Python start-up); the bound only tells an
    # exit from the hang it replaces, on a loaded 2-core CI machine.
    assert "Traceback" not in result.stderr and took < 90


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"KAFKA_SASL_PASSWORD": "wrong"}, "SaslAuthenticationFailed"),
        ({"KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "KAFKA_SASL_USERNAME": "ghost"}, "refused"),
        ({"KAFKA_SSL_CAFILE": "OTHER_CA"}, "CERTIFICATE_VERIFY_FAILED"),
        ({"KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"}, "KAFKA_SSL_CAFILE: no such file"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}, "expects another protocol"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL"}, "expects another protocol"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "MTLS"}, "expects another protocol"),
    ],
    ids=["password", "user", "ca", "ca-file", "sasl-on-tls", "tls-on-sasl", "sasl-on-mtls"],
)
async def test_a_worker_with_bad_credentials_or_protocol_stops_in_one_line(
    secured: Secured, tmp_path: Path, variables: dict[str, str], expected: str
) -> None:
    e, s = secured.endpoints, secured.settings
    if variables.get("KAFKA_SSL_CAFILE") == "OTHER_CA":
        variables = {"KAFKA_SSL_CAFILE": str(e.other_ca_file)}
    if variables.get("KAFKA_BOOTSTRAP_SERVERS") == "MTLS":  # SASL_SSL to the mTLS listener
        variables = {"KAFKA_BOOTSTRAP_SERVERS": e.kafka_mtls_bootstrap}
    began = time.monotonic()
    result = await asyncio.to_thread(
        run_command, _worker_settings(e, s, tmp_path, **variables), "worker"
    )
    assert result.returncode == 2, result.stderr[-2000:]
    [line] = result.stderr.strip().splitlines()
    assert expected in line, line
    assert time.monotonic() - began < 30
    for secret in _secrets(e):
        assert secret not in result.stderr + result.stdout


# -- Redis ------------------------------------------------------------------------------


async def test_redis_worker_user_runs_the_latest_value_sink(secured: Secured) -> None:
    """The service's own sink, as ``worker`` over TLS: the Lua compare-and-set, GET, PING."""
    e, s = secured.endpoints, secured.settings
    url = f"{e.redis_url('worker')}?ssl_ca_certs={e.ca_file}"
    sink = RedisLatestSink(url, 60, Metrics())
    key = s.redis_key("m1")
    try:
        assert await sink.write([LatestValue(key, 5, '{"seq": 5}')]) == 1
        assert await sink.write([LatestValue(key, 4, '{"seq": 4}')]) == 0  # older: kept out
        assert sink.last_error is None
        assert await sink.read(key) == b'{"seq": 5}'
        assert await sink.ping() is None
    finally:
        await sink.client.aclose()


def test_redis_worker_user_is_limited_to_its_commands_and_keys(secured: Secured) -> None:
    e = secured.endpoints
    client = redis.Redis.from_url(e.redis_url("worker"), **e.redis_tls())
    try:
        for attempt in (
            lambda: client.set("not-a-prediction", "x"),
            lambda: client.get("not-a-prediction"),
            client.flushall,
            lambda: client.eval("return 1", 0),
            lambda: client.keys("*"),
            lambda: client.config_get("*"),
            lambda: client.delete(secured.settings.redis_key("m1")),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                attempt()
    finally:
        client.close()


@pytest.mark.parametrize(
    "url",
    [
        "rediss://worker:not-the-password@{address}/0",
        "rediss://{address}/0",  # no user: `default`, which is off
        "rediss://default:anything@{address}/0",
    ],
)
def test_redis_refuses_bad_credentials_and_the_default_user(secured: Secured, url: str) -> None:
    e = secured.endpoints
    client = redis.Redis.from_url(
        url.format(address=e.redis_address), socket_timeout=FAST, **e.redis_tls()
    )
    began = time.monotonic()
    try:
        with pytest.raises(redis.exceptions.AuthenticationError):
            client.ping()
    finally:
        client.close()
    assert time.monotonic() - began < FAST


@pytest.mark.parametrize("how", ["plaintext", "other CA", "stranger certificate"])
def test_redis_refuses_connections_that_are_not_our_tls(secured: Secured, how: str) -> None:
    e = secured.endpoints
    options: dict[str, Any] = {"socket_timeout": FAST, "socket_connect_timeout": FAST}
    url = e.redis_url("worker")
    if how == "plaintext":
        url = url.replace("rediss://", "redis://")
    elif how == "other CA":
        options["ssl_ca_certs"] = str(e.other_ca_file)
    else:
        options |= e.redis_tls() | {
            "ssl_certfile": str(e.stranger_cert),
            "ssl_keyfile": str(e.stranger_key),
        }
    client = redis.Redis.from_url(url, **options)
    began = time.monotonic()
    try:
        with pytest.raises(redis.exceptions.ConnectionError):
            client.ping()
    finally:
        client.close()
    assert time.monotonic() - began < FAST


def test_redis_accepts_the_client_certificate(secured: Secured) -> None:
    e = secured.endpoints
    client = redis.Redis.from_url(
        e.redis_url("worker"),
        **e.redis_tls(),
        ssl_certfile=str(e.client_cert),
        ssl_keyfile=str(e.client_key),
    )
    try:
        assert client.ping()
    finally:
        client.close()


# -- MLflow -----------------------------------------------------------------------------


def _mlflow(
    e: SecureEndpoints, path: str, body: dict[str, Any] | None = None, user: str | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if user is not None:
        username, password = e.mlflow_credentials(user) if ":" not in user else user.split(":")
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{e.mlflow_uri}{path}", data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text.startswith(b"{") else {}
    except urllib.error.HTTPError as exc:
        return exc.code, {"error": exc.read().decode(errors="replace")[:200]}


def test_mlflow_refuses_wrong_credentials_and_accepts_the_worker(secured: Secured) -> None:
    e = secured.endpoints
    search = "/api/2.0/mlflow/registered-models/search"
    assert _mlflow(e, search)[0] == 401
    assert _mlflow(e, search, user="worker:not-the-password")[0] == 401
    assert _mlflow(e, search, user="nosuchuser:whatever")[0] == 401
    assert _mlflow(e, search, user="worker")[0] == 200
    assert _mlflow(e, "/health")[0] == 200  # the probe needs no credentials


def test_mlflow_worker_may_promote_its_model_and_nothing_more(secured: Secured) -> None:
    """EDIT on MODEL_NAME: move an alias, tag a version; not delete, not touch others."""
    e, name = secured.endpoints, secured.settings.model_name
    for model in (name, "someone_elses_model"):
        status, _ = _mlflow(e, "/api/2.0/mlflow/registered-models/create", {"name": model}, "admin")
        assert status in (200, 400)  # 400: made by an earlier run of this module
    _, run = _mlflow(e, "/api/2.0/mlflow/runs/create", {"experiment_id": "0"}, "admin")
    info = run["run"]["info"]
    status, made = _mlflow(
        e,
        "/api/2.0/mlflow/model-versions/create",
        {"name": name, "source": f"{info['artifact_uri']}/model", "run_id": info["run_id"]},
        "admin",
    )
    assert status == 200, made
    version = made["model_version"]["version"]

    alias = {"name": name, "alias": "champion", "version": version}
    assert _mlflow(e, "/api/2.0/mlflow/registered-models/alias", alias, "worker")[0] == 200
    tag = {"name": name, "version": version, "key": "promoted.by", "value": "worker"}
    assert _mlflow(e, "/api/2.0/mlflow/model-versions/set-tag", tag, "worker")[0] == 200
    status, _ = _mlflow(
        e, f"/api/2.0/mlflow/registered-models/alias?name={name}&alias=champion", None, "worker"
    )
    assert status == 200

    other = {"name": "someone_elses_model", "key": "k", "value": "v"}
    assert _mlflow(e, "/api/2.0/mlflow/registered-models/set-tag", other, "worker")[0] == 403
    request = urllib.request.Request(
        f"{e.mlflow_uri}/api/2.0/mlflow/registered-models/delete",
        data=json.dumps({"name": name}).encode(),
        method="DELETE",
        headers={
            "Content-Type": "application/json",
            "Authorization": "Basic "
            + base64.b64encode(":".join(e.mlflow_credentials("worker")).encode()).decode(),
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403


# -- the command line -------------------------------------------------------------------


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", "stack", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        timeout=120,
        check=False,
    )


def test_cli_up_status_and_env_secure(secured: Secured) -> None:
    env = settings_env(secured.settings)  # the same STATE_DIR, group and topics
    status = _cli("status", "--secure", env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    lines = status.stdout.strip().splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["kafka", "ready"],
        ["redis", "ready"],
        ["mlflow", "ready"],
    ]

    up = _cli("up", "--secure", env=env)
    assert up.returncode == 0, up.stderr
    assert up.stdout.count("already running") == 3
    assert secured.endpoints.kafka_mtls_bootstrap in up.stdout
    passwords = [
        pw.get_secret_value()
        for group in (secured.endpoints.kafka_passwords, secured.endpoints.redis_passwords)
        for pw in group.values()
    ]
    assert not any(pw in up.stdout + up.stderr for pw in passwords), "passwords only on request"

    printed = _cli("env", "--secure", env=env)
    assert printed.returncode == 0, printed.stderr
    exported = dict(
        shlex.split(line)[1].split("=", 1) for line in printed.stdout.strip().splitlines()
    )
    assert exported == secured.endpoints.env_for("worker")
    client = _cli("env", "--secure", "--as", "client", env=env)
    assert "KAFKA_SASL_USERNAME=client" in client.stdout and "REDIS_URL" not in client.stdout


def test_cli_status_secure_without_a_stack(tmp_path: Path) -> None:
    printed = _cli("env", "--secure", env={"STATE_DIR": str(tmp_path)})
    assert printed.returncode == 2 and printed.stderr.startswith("error: no secured stack")
    result = _cli("status", "--secure", env={"STATE_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert [line.split()[:2] for line in result.stdout.strip().splitlines()] == [
        ["kafka", "down"],
        ["redis", "down"],
        ["mlflow", "down"],
    ]


def test_cli_up_secure_refuses_a_taken_port_in_one_line(tmp_path: Path) -> None:
    env = {"STATE_DIR": str(tmp_path)}
    prepared = SecureStack(tmp_path / "secure", Settings(state_dir=tmp_path))
    ports = prepared.endpoints()  # chooses and records the ports
    taken = int(ports.redis_address.rsplit(":", 1)[1])
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", taken))
        sock.listen()
        began = time.monotonic()
        result = _cli("up", "--secure", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert f"port {taken} is taken" in lines[0] and "ports.json" in lines[0]
    assert time.monotonic() - began < 60, "refused before starting anything slow"
    assert all(s.pid is None for s in prepared.status())


def test_passwords_are_in_no_log_and_on_no_command_line(secured: Secured) -> None:
    """Only the three private files hold them (credentials.json, the broker's config for
    its PLAIN users, MLflow's auth config); Redis keeps hashes; logs and argv never."""
    e, home = secured.endpoints, secured.endpoints.home
    passwords = [
        pw.get_secret_value()
        for group in (e.kafka_passwords, e.redis_passwords, e.mlflow_passwords)
        for pw in group.values()
    ]
    holders = set()
    for path in home.rglob("*"):
        if path.is_file() and "libs" not in path.relative_to(home).parts:
            text = path.read_bytes()
            if any(pw.encode() in text for pw in passwords):
                holders.add(str(path.relative_to(home)))
                assert path.stat().st_mode & 0o077 == 0, path
    assert holders == {"credentials.json", "kafka/server.properties", "mlflow/basic_auth.ini"}
    argv = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not any(pw in argv for pw in passwords)


def test_the_worker_environment_builds_its_settings(secured: Secured) -> None:
    """What ``env_for`` hands out parses as the service's settings today (the security
    variables are read once streams/settings.py has them)."""
    env = secured.endpoints.env_for("worker")
    known = {k.lower(): v for k, v in env.items() if k.lower() in Settings.model_fields}
    settings = Settings(**known)
    assert settings.kafka_bootstrap_servers == secured.endpoints.kafka_bootstrap
    assert settings.redis_url.get_secret_value().startswith("rediss://worker:")

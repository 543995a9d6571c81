"""The container stack (docker-compose.kafka.yml, Dockerfile) is valid and runs the worker.

No Docker is needed. The compose file, interpolated as Compose does, is validated against
the published Compose Specification schema (``tests/vendored/compose-spec.json``, see the
README there); its environments are read by the real ``Settings``; its wiring (who talks to
whom on which port) is checked against the services it names; the trainer's and the
retrainer's commands go through the real ``python -m models`` parser. The image's command
is run, with only the files the Dockerfile copies, until the worker's own start-up check
stops it, and so is the retrainer's, until its read of the results topic stops it. When a Compose
CLI is installed (optional: Docker is) its ``config`` must resolve the file the same way.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from packaging.specifiers import SpecifierSet

from models.cli import build_parser as models_parser
from streams.cli.main import build_parser as streams_parser
from streams.settings import Settings, parse_host_port
from tests.tools import find_tool, require_tool

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.kafka.yml"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_SCHEMA = ROOT / "tests" / "vendored" / "compose-spec.json"

SETTING_NAMES = frozenset(name.upper() for name in Settings.model_fields)

# --- Compose's own reading of the file ---------------------------------------------------

#: ``${NAME}``, ``${NAME-default}``, ``${NAME:-default}``: the forms the file may use. Any
#: other ``$`` (``:?``, ``:+``, a bare ``$NAME``) is refused below rather than misread.
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """``value`` with variables substituted from ``env`` as the Compose Specification says:
    ``:-`` takes the default when unset or empty, ``-`` only when unset; ``$$`` is ``$``."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, op, default = match["name"], match["op"], match["default"] or ""
        if op == ":-":
            return env.get(name) or default
        if op == "-":
            return env.get(name, default)
        return env.get(name, "")

    text = value.replace("$$", "\0")
    text = _VARIABLE.sub(substitute, text)
    if "$" in text:
        raise ValueError(f"a variable form this test cannot read: {value!r}")
    return text.replace("\0", "$")


def compose_model(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The file as Compose loads it with ``env`` as the caller's environment (YAML merge
    keys resolved by the loader, then interpolation)."""
    return interpolate(yaml.safe_load(COMPOSE_FILE.read_text()), env or {})


@cache
def compose_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def schema_errors(model: dict[str, Any]) -> list[str]:
    return [
        f"{'.'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in compose_validator().iter_errors(model)
    ]


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return compose_model()["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the list form, KEY=VALUE
        env = dict(item.partition("=")[::2] for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def settings_of(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The Settings a process with exactly ``env`` (as far as settings go) builds."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def published_ports(service: dict[str, Any]) -> Iterator[tuple[str, int, int]]:
    """(host_ip, published, target) of the short and the long port syntax."""
    for port in service.get("ports", []):
        if isinstance(port, dict):
            yield port.get("host_ip", ""), int(port["published"]), int(port["target"])
        else:
            *ip, published, target = str(port).split("/")[0].split(":")
            yield (ip[0] if ip else ""), int(published), int(target)


def mounts(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """target -> (source, read_only) of the short and the long volume syntax."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            found[volume["target"]] = (volume["source"], bool(volume.get("read_only")))
        else:
            source, target, *mode = volume.split(":")
            found[target] = (source, "ro" in mode)
    return found


def argv(command: str | list[Any]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def kafka_listeners(kafka: dict[str, Any], variable: str) -> dict[str, tuple[str, int]]:
    """Listener name -> (host, port) of KAFKA_LISTENERS or KAFKA_ADVERTISED_LISTENERS."""
    found = {}
    for listener in environment(kafka)[variable].split(","):
        name, _, address = listener.partition("://")
        host, _, port = address.rpartition(":")
        found[name] = (host, int(port))
    return found


# --- the file is valid Compose -----------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [{}, {"ADMIN_TOKEN": "s3cret", "PREDICTIONS_TOPIC": "preds-v2", "LOG_LEVEL": "DEBUG"}],
    ids=["defaults", "user-environment"],
)
def test_compose_file_validates_against_the_compose_specification(env: dict[str, str]) -> None:
    assert schema_errors(compose_model(env)) == []


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda m: m["services"]["worker"].update(enviroment={}), "services.worker"),
        (lambda m: m["services"]["worker"].update(environment="WEB_PORT=1"), "environment"),
        (lambda m: m["services"]["worker"].update(ports={"6066": 6066}), "services.worker.ports"),
    ],
    ids=["misspelt-key", "wrong-type", "wrong-shape"],
)
def test_the_schema_refuses_a_broken_file(change: Any, where: str) -> None:
    broken = copy.deepcopy(compose_model())
    change(broken)
    errors = schema_errors(broken)
    assert any(where in error for error in errors), errors


def test_references_between_services_and_volumes_resolve(
    services: dict[str, dict[str, Any]],
) -> None:
    # What the schema cannot say and Compose refuses at load time.
    volumes = set(compose_model().get("volumes") or {})
    for name, service in services.items():
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for source, _ in mounts(service).values():
            if not source.startswith((".", "/")):  # a named volume, not a bind mount
                assert source in volumes, f"{name} mounts undeclared volume {source}"


# --- environments are the service's own settings -----------------------------------------


def test_every_variable_set_for_the_service_is_a_setting(
    services: dict[str, dict[str, Any]],
) -> None:
    # A misspelt name (PREDICTION_TOPIC) would be ignored silently by Settings.
    image_env = {
        name: value
        for line in dockerfile("ENV")
        for name, _, value in (pair.partition("=") for pair in shlex.split(line))
        if not name.startswith(("PYTHON", "PIP_"))  # the interpreter's and pip's own
    }
    for where, env in [
        ("worker", environment(services["worker"])),
        ("trainer", environment(services["trainer"])),  # models.cli reads Settings too
        ("retrainer", environment(services["retrainer"])),
        ("Dockerfile ENV", image_env),
    ]:
        unknown = set(env) - SETTING_NAMES
        assert not unknown, f"{where}: not fields of streams.settings.Settings: {sorted(unknown)}"


def test_the_workers_topics_are_the_settings_defaults_unless_overridden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topics = [f for f in Settings.model_fields if f.endswith("_topic")]
    env = environment(compose_model()["services"]["worker"])
    assert {f.upper() for f in topics} & set(env), "the worker sets no topic at all"
    settings = settings_of(env, monkeypatch)
    for field in topics:
        assert getattr(settings, field) == Settings.model_fields[field].default, field
    # The caller's environment reaches the worker: an override and the admin token.
    overridden = compose_model({"PREDICTIONS_TOPIC": "preds-v2", "ADMIN_TOKEN": "s3cret"})
    settings = settings_of(environment(overridden["services"]["worker"]), monkeypatch)
    assert settings.predictions_topic == "preds-v2"
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == "s3cret"


# --- wiring: who reaches whom ------------------------------------------------------------


def test_the_worker_reaches_kafka_redis_and_mlflow_where_they_listen(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_of(environment(services["worker"]), monkeypatch)

    (bootstrap,) = settings.kafka_bootstrap_servers.split(",")
    broker = parse_host_port(bootstrap, 9092)
    assert broker.host in services
    # Kafka answers a bootstrap with the advertised address of the listener it came in on:
    # that address must be the one the worker can reach.
    kafka = services[broker.host]
    (listener,) = [
        name
        for name, (_, port) in kafka_listeners(kafka, "KAFKA_LISTENERS").items()
        if port == broker.port
    ]
    assert kafka_listeners(kafka, "KAFKA_ADVERTISED_LISTENERS")[listener] == (
        broker.host,
        broker.port,
    )

    redis = urlsplit(settings.redis_url.get_secret_value())
    assert redis.hostname in services
    assert redis.port in {target for _, _, target in published_ports(services[redis.hostname])}

    mlflow = urlsplit(settings.mlflow_tracking_uri)
    assert mlflow.hostname in services
    server = argv(services[mlflow.hostname]["command"])
    assert f"--port={mlflow.port}" in server
    allowed = next(a for a in server if a.startswith("--allowed-hosts=")).split("=", 1)[1]
    assert mlflow.netloc in allowed.split(","), "MLflow would refuse the worker's Host header"


def test_host_clients_on_default_settings_reach_the_containers(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = settings_of({}, monkeypatch)
    published = {
        name: {published for _, published, _ in published_ports(service)}
        for name, service in services.items()
    }

    (bootstrap,) = defaults.kafka_bootstrap_servers.split(",")
    broker = parse_host_port(bootstrap, 9092)
    assert broker.port in published["kafka"]
    advertised = kafka_listeners(services["kafka"], "KAFKA_ADVERTISED_LISTENERS").values()
    assert (broker.host, broker.port) in advertised

    redis = urlsplit(defaults.redis_url.get_secret_value())
    assert redis.port in published["redis"]
    # The worker's own port, published where `curl localhost:<WEB_PORT>/ready` finds it.
    worker = settings_of(environment(services["worker"]), monkeypatch)
    assert worker.web_port == defaults.web_port
    assert (worker.web_port, worker.web_port) in {
        (published, target) for _, published, target in published_ports(services["worker"])
    }


def test_published_ports_are_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    # A development stack without authentication: nothing on the machine's other interfaces.
    for name, service in services.items():
        for host_ip, published, _ in published_ports(service):
            assert host_ip == "127.0.0.1", f"{name} publishes {published} on {host_ip or 'all'}"


def test_the_worker_starts_after_healthy_dependencies_and_is_probed_on_its_port(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = services["worker"]
    for dependency, rule in worker["depends_on"].items():
        assert rule["condition"] == "service_healthy", dependency
        assert services[dependency]["healthcheck"]["test"], f"{dependency} has no healthcheck"
    settings = settings_of(environment(worker), monkeypatch)
    probe = " ".join(argv(worker["healthcheck"]["test"]))
    urls = re.findall(r"https?://[^'\"\s]+", probe)
    assert urls, probe
    assert all(urlsplit(url).port == settings.web_port for url in urls), probe


def test_the_trainer_writes_the_features_and_model_the_worker_reads(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer, worker = services["trainer"], services["worker"]
    args = models_parser().parse_args(argv(trainer["command"])[3:])
    assert args.command == "train"
    volume, read_only = mounts(trainer)[str(args.features_dir)]
    assert not read_only
    served = settings_of(environment(worker), monkeypatch)
    assert mounts(worker)[str(served.features_dir)] == (volume, True)
    trained = settings_of(environment(trainer), monkeypatch)
    assert (trained.mlflow_tracking_uri, trained.model_name, trained.model_alias) == (
        served.mlflow_tracking_uri,
        served.model_name,
        served.model_alias,
    )


def test_the_retrainer_reads_the_workers_results_and_registers_a_challenger_it_shadows(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    retrainer, trainer, worker = services["retrainer"], services["trainer"], services["worker"]
    # Only on demand: `docker compose up` starts no service with a profile.
    assert retrainer["profiles"] and "default" not in retrainer["profiles"]
    args = models_parser().parse_args(argv(retrainer["command"])[3:])
    assert args.command == "retrain"
    # The base data is the trainer's: the same synthetic matches, the same seed.
    trained = models_parser().parse_args(argv(trainer["command"])[3:])
    assert (args.data, args.synthetic, args.seed) == (trained.data, trained.synthetic, trained.seed)
    ours = settings_of(environment(retrainer), monkeypatch)
    served = settings_of(environment(worker), monkeypatch)
    assert ours.kafka_bootstrap_servers == served.kafka_bootstrap_servers
    assert ours.results_topic == served.results_topic
    assert (ours.registry_uri, ours.model_name) == (served.registry_uri, served.model_name)
    assert "challenger" in served.challengers, "the worker would not shadow the version"
    assert ours.model_alias != "challenger", "retrain would move the served alias"
    for dependency in ("kafka", "mlflow"):
        assert retrainer["depends_on"][dependency]["condition"] == "service_healthy"


# --- the image --------------------------------------------------------------------------


def dockerfile(instruction: str) -> list[str]:
    """The arguments of every ``instruction`` in the Dockerfile, continuations joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        keyword, _, rest = line.strip().partition(" ")
        if keyword.upper() == instruction:
            found.append(rest.strip())
    return found


def test_the_base_image_python_satisfies_requires_python() -> None:
    (base,) = dockerfile("FROM")
    version = re.fullmatch(r"python:(\d+\.\d+)[-\w.]*", base)
    assert version, f"not an official python image: {base}"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert version[1] in SpecifierSet(requires)


def image_commands(services: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    (cmd,) = dockerfile("CMD")
    assert not dockerfile("ENTRYPOINT"), "an ENTRYPOINT would prefix the command"
    return {
        "Dockerfile CMD": json.loads(cmd),
        "compose worker": argv(services["worker"]["command"]),
    }


def test_the_image_command_is_the_worker_command(services: dict[str, dict[str, Any]]) -> None:
    for where, command in image_commands(services).items():
        assert command[:3] == ["python", "-m", "streams"], where
        assert streams_parser().parse_args(command[3:]).command == "worker", where


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def copied_app(tmp_path: Path) -> Path:
    """WORKDIR as the image has it: only what the Dockerfile COPYs there (as links)."""
    app = tmp_path / "app"
    app.mkdir(parents=True)
    for copy_args in dockerfile("COPY"):
        *sources, destination = copy_args.split()
        for source in sources:
            target = (
                app / destination / Path(source).name
                if destination.endswith("/")
                else (app / destination)
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(ROOT / source)
    return app


def run_in_image(
    command: list[str] | tuple[str, ...], tmp_path: Path
) -> tuple[subprocess.CompletedProcess[str], str]:
    """``command`` run as the image runs it (:func:`copied_app`, the installed dependencies,
    ``-S`` keeping this checkout's editable install, and so ``devstack/``, out), with the
    settings' defaults but a broker address where nothing listens; and that address."""
    broker = f"127.0.0.1:{closed_port()}"
    env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES and k != "PYTHONPATH"}
    env |= {
        "PYTHONPATH": sysconfig.get_paths()["purelib"],
        "KAFKA_BOOTSTRAP_SERVERS": broker,
        "KAFKA_STARTUP_TIMEOUT_SECONDS": "1",
        "STATE_DIR": str(tmp_path / "state"),
        "FEATURES_DIR": str(tmp_path / "features"),
    }
    result = subprocess.run(
        [sys.executable, "-S", *command[1:]],
        cwd=copied_app(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result, broker


def test_the_image_command_runs_the_worker_from_only_the_copied_files(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """Each distinct command, run as the image runs it, gets as far as the worker's first
    contact with Kafka, refused in one line, which shows every import on the way resolved."""
    for i, command in enumerate({tuple(c) for c in image_commands(services).values()}):
        result, broker = run_in_image(command, tmp_path / str(i))
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: kafka:"), result.stderr
        assert broker in result.stderr


def test_the_retrainer_runs_from_only_the_copied_files_until_the_broker_refuses(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """The retrainer in the image: its base data made, the (local) registry checked, then
    the results topic's broker refuses, in one line naming it, as the last line."""
    result, broker = run_in_image(argv(services["retrainer"]["command"]), tmp_path)
    assert result.returncode == 2, result.stderr
    *progress, last = result.stderr.splitlines()
    assert last.startswith(f"error: kafka: no answer from {broker}"), result.stderr
    assert not any(line.startswith(("error", "Traceback")) for line in progress), result.stderr
    assert result.stdout == ""


# --- a Compose CLI, when there is one ----------------------------------------------------


def compose_cli() -> list[str]:
    """``docker compose`` (v2) when the plugin answers, else ``docker-compose``."""
    docker = find_tool("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    return [require_tool("docker-compose")]


def test_a_compose_cli_resolves_the_file_as_this_test_does() -> None:
    # Drop the variables the file reads, so it is the file's own defaults that are compared.
    env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    env.pop("COMPOSE_PROFILES", None)
    result = subprocess.run(
        [
            *compose_cli(),
            "-f",
            str(COMPOSE_FILE),
            "--profile",
            "train",
            "--profile",
            "retrain",
            "config",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)["services"]
    ours = compose_model()["services"]
    assert set(resolved) == set(ours)
    for name in ours:
        assert environment(resolved[name]) == environment(ours[name]), name

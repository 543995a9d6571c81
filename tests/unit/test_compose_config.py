"""The container stack (docker-compose.kafka.yml, Dockerfile) parses and wires the contract.

No Docker engine is needed: ``config`` only resolves the file. The tool is the Compose
plugin (``docker compose``) when it answers, else the standalone ``docker-compose``;
without either the compose tests skip (CI installs ``docker-compose`` with apt).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.kafka.yml"

#: Every variable the contract's configuration section names, plus one per topic.
CONTRACT_VARIABLES = frozenset(
    {
        "KAFKA_BOOTSTRAP_SERVERS",
        "REDIS_URL",
        "MLFLOW_TRACKING_URI",
        "MODEL_NAME",
        "MODEL_ALIAS",
        "FEATURES_DIR",
        "WEB_PORT",
        "ADMIN_TOKEN",
        "LIVESCORES_TOPIC",
        "MATCH_REQUESTS_TOPIC",
        "PREDICTIONS_TOPIC",
        "PREDICTIONS_DLQ_TOPIC",
    }
)
CORE_SERVICES = frozenset({"kafka", "redis", "mlflow", "worker"})


@cache
def compose_command() -> tuple[str, ...] | None:
    """The Compose CLI available here, or None."""
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return ("docker", "compose")
    if shutil.which("docker-compose"):
        return ("docker-compose",)
    return None


def run_compose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    # The file interpolates these from the caller's environment; drop them so the
    # defaults written in the file are what is checked, then apply the test's own.
    clean = {k: v for k, v in os.environ.items() if k not in CONTRACT_VARIABLES}
    clean.pop("COMPOSE_PROFILES", None)
    return subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env={**clean, **(env or {})},
    )


def resolved(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The fully resolved compose model, with the train profile active."""
    result = run_compose("--profile", "train", "config", env=env)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return resolved()


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the list form, KEY=VALUE
        env = dict(item.partition("=")[::2] for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def published_ports(service: dict[str, Any]) -> set[tuple[str, int, int]]:
    """(host_ip, published, target) for both the short (v1) and long (v2) port forms."""
    ports = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.add((port.get("host_ip", ""), int(port["published"]), int(port["target"])))
        else:
            *ip, published, target = str(port).split("/")[0].split(":")
            ports.add((ip[0] if ip else "", int(published), int(target)))
    return ports


def mounts(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """target -> (source, read_only) for both volume forms."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            found[volume["target"]] = (volume["source"], bool(volume.get("read_only")))
        else:
            source, target, *mode = volume.split(":")
            found[target] = (source, "ro" in mode)
    return found


def command_of(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return command.split() if isinstance(command, str) else [str(c) for c in command]


# --- compose ---------------------------------------------------------------------------


def test_config_exits_zero_without_profile() -> None:
    result = run_compose("config", "--services")
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) >= CORE_SERVICES


def test_services(config: dict[str, Any]) -> None:
    assert set(config["services"]) == CORE_SERVICES | {"trainer"}


def test_worker_environment_names_every_contract_variable(config: dict[str, Any]) -> None:
    missing = CONTRACT_VARIABLES - set(environment(config["services"]["worker"]))
    assert not missing, f"worker environment lacks {sorted(missing)}"


def test_worker_environment_is_only_real_settings(config: dict[str, Any]) -> None:
    # A typo (PREDICTION_TOPIC) would be ignored silently by the settings object.
    known = {name.upper() for name in Settings.model_fields}
    unknown = set(environment(config["services"]["worker"])) - known
    assert not unknown, f"not settings of streams.settings.Settings: {sorted(unknown)}"


def test_worker_defaults_reach_the_other_containers(config: dict[str, Any]) -> None:
    env = environment(config["services"]["worker"])
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert env["WEB_HOST"] == "0.0.0.0"
    assert (env["MODEL_NAME"], env["MODEL_ALIAS"], env["WEB_PORT"]) == (
        "soccer_clf", "champion", "6066",
    )  # fmt: skip
    topics = [env[f"{t}_TOPIC"] for t in ("LIVESCORES", "MATCH_REQUESTS", "PREDICTIONS")]
    assert [*topics, env["PREDICTIONS_DLQ_TOPIC"]] == [
        "livescores", "match-requests", "predictions", "predictions-dlq",
    ]  # fmt: skip
    assert env["ADMIN_TOKEN"] == ""  # unset means reload is off


def test_user_environment_overrides_token_and_topics() -> None:
    config = resolved({"ADMIN_TOKEN": "s3cret", "PREDICTIONS_TOPIC": "preds-v2"})
    env = environment(config["services"]["worker"])
    assert (env["ADMIN_TOKEN"], env["PREDICTIONS_TOPIC"]) == ("s3cret", "preds-v2")


def test_worker_waits_for_healthy_dependencies(config: dict[str, Any]) -> None:
    depends_on = config["services"]["worker"]["depends_on"]
    assert {name: dep["condition"] for name, dep in depends_on.items()} == {
        "kafka": "service_healthy", "redis": "service_healthy", "mlflow": "service_healthy",
    }  # fmt: skip
    for name in ("kafka", "redis", "mlflow", "worker"):
        assert config["services"][name]["healthcheck"]["test"], name


def test_published_ports_are_loopback_only(config: dict[str, Any]) -> None:
    services = config["services"]
    assert published_ports(services["worker"]) == {("127.0.0.1", 6066, 6066)}
    assert published_ports(services["kafka"]) == {("127.0.0.1", 9092, 9092)}
    for service in services.values():
        for host_ip, _, _ in published_ports(service):
            assert host_ip == "127.0.0.1"


def test_kafka_is_single_node_kraft_with_two_listeners(config: dict[str, Any]) -> None:
    kafka = config["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.1.")
    env = environment(kafka)
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    advertised = env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "PLAINTEXT://kafka:19092" in advertised
    assert "HOST://localhost:9092" in advertised


def test_mlflow_serves_artifacts_from_sqlite(config: dict[str, Any]) -> None:
    command = command_of(config["services"]["mlflow"])
    assert command[:2] == ["mlflow", "server"]
    assert "--serve-artifacts" in command
    assert any(arg.startswith("--backend-store-uri=sqlite:") for arg in command)
    hosts = next(a for a in command if a.startswith("--allowed-hosts="))
    assert "mlflow:5000" in hosts.split("=", 1)[1].split(",")


def test_trainer_is_a_one_shot_writing_the_workers_features(config: dict[str, Any]) -> None:
    trainer, worker = config["services"]["trainer"], config["services"]["worker"]
    assert trainer["profiles"] == ["train"]
    assert command_of(trainer) == [
        "python", "-m", "models", "train", "--synthetic", "3000", "--features-dir", "/features",
    ]  # fmt: skip
    assert environment(trainer)["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert mounts(trainer)["/features"] == ("features", False)
    assert mounts(worker)["/features"] == ("features", True)
    assert command_of(worker) == ["python", "-m", "streams", "worker"]


# --- Dockerfile and .dockerignore (no tool needed) -------------------------------------


def test_dockerfile_builds_the_project_on_python_311() -> None:
    lines = [ln.strip() for ln in (ROOT / "Dockerfile").read_text().splitlines()]
    instructions = [ln for ln in lines if ln and not ln.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    assert any(ln.startswith("RUN pip install .") for ln in instructions)
    assert instructions[-1] == 'CMD ["python", "-m", "streams", "worker"]'
    copied = {ln.split()[1] for ln in instructions if ln.startswith("COPY ")}
    for package in ("schemas", "streams", "models"):
        assert package in copied, package


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", ".state", ".git"} <= ignored

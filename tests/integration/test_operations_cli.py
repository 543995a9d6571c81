"""The CLI against a real worker: replay, request, and the admin endpoint when it is off."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devstack.worker import REPO, WorkerProcess, settings_env
from models.synthetic import generate_matches
from streams.cli.match_feed import schedule, select_matches
from streams.settings import Settings
from tests.conftest import RunningStack, topics_deleted_after
from tests.harness import collect
from tests.integration.conftest import TrainedRegistry
from tests.integration.module_worker import module_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


async def cli(settings: Settings, *args: str, timeout: float = 90) -> Ran:
    """``python -m streams ARGS`` with ``settings`` in its environment."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "streams",
        *args,
        cwd=REPO,
        env={**os.environ, **settings_env(settings)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


@pytest.fixture(scope="module")
def cli_settings(
    stack: RunningStack, trained_registry: TrainedRegistry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    settings = module_settings(stack, trained_registry, tmp_path_factory.mktemp("ops-cli"))
    with topics_deleted_after(settings):
        yield settings


@pytest.fixture(scope="module")
def cli_worker(
    cli_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    assert cli_settings.admin_token is None
    log = tmp_path_factory.mktemp("ops-cli-log") / "worker.log"
    process = WorkerProcess(cli_settings, log).launch()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


async def test_reload_is_off_without_admin_token(cli_worker: WorkerProcess) -> None:
    from tests.integration.test_operations_http import post

    for token in (None, "anything"):
        status, body = await asyncio.to_thread(post, f"{cli_worker.base_url}/model/reload", token)
        assert status == 403 and "ADMIN_TOKEN" in body["error"]


async def test_replay_publishes_events_that_all_get_predictions(
    cli_worker: WorkerProcess, cli_settings: Settings
) -> None:
    args = ["--synthetic", "120", "--seed", "5", "--max-matches", "4"]
    ran = await cli(cli_settings, "replay", *args, "--speed", "900", "--stagger", "10")
    assert ran.code == 0, ran.err
    matches = select_matches(generate_matches(120, 5), max_matches=4)
    expected = {
        (e.event.match_id, e.event.seq)
        for e in schedule(matches, speed=900, start=dt.datetime.now(dt.UTC))
    }
    assert ran.out.strip() == (
        f"published {len(expected)} events of 4 matches to {cli_settings.livescores_topic}"
    )
    assert "[replay]" in ran.err and "4/4 matches finished" in ran.err

    records = await collect(
        cli_settings,
        cli_settings.predictions_topic,
        lambda rs: len(rs) >= len(expected),
        timeout=60,
    )
    assert {(r["match_id"], r["seq"]) for r in records} == expected
    finals = [r for r in records if r["status"] == "finished"]
    by_id = {m.match_id: m for m in matches}
    for final in finals:
        match = by_id[final["match_id"]]
        assert (final["home_goals"], final["away_goals"]) == (match.home_score, match.away_score)


async def test_request_prints_the_answer(
    cli_worker: WorkerProcess, cli_settings: Settings, trained_registry: TrainedRegistry
) -> None:
    match_id = trained_registry.match_ids()[-5]
    ran = await cli(
        cli_settings, "request", "--match-id", match_id, "--request-id", "cli-1", "--json"
    )
    assert ran.code == 0, ran.err
    answer = json.loads(ran.out)
    assert (answer["request_id"], answer["match_id"], answer["trigger"]) == (
        "cli-1",
        match_id,
        "request",
    )
    assert answer["model"]["version"] == "1"

    ran = await cli(
        cli_settings,
        "request",
        "--match-id",
        "cli-friendly",
        "--home",
        "Brazil",
        "--away",
        "Argentina",
        "--neutral",
    )
    assert ran.code == 0, ran.err
    assert ran.out.startswith("cli-friendly  pre-match") and "soccer_clf v1" in ran.out
    assert ran.out.count("\n") == 1


async def test_request_reports_a_dead_letter_in_one_line(
    cli_worker: WorkerProcess, cli_settings: Settings
) -> None:
    ran = await cli(cli_settings, "request", "--match-id", "nobody-knows", "--timeout", "30")
    assert ran.code == 1 and ran.out == ""
    assert ran.err.startswith("error: request ") and "unknown_match" in ran.err
    assert ran.err.count("\n") == 1 and "Traceback" not in ran.err


async def test_cli_without_kafka_is_one_line(cli_settings: Settings) -> None:
    unreachable = Settings(
        **{**cli_settings.model_dump(), "kafka_bootstrap_servers": "127.0.0.1:1"}
    )
    ran = await cli(unreachable, "request", "--match-id", "m", timeout=60)
    assert ran.code == 1 and ran.err.startswith("error: kafka: no answer from 127.0.0.1:1")
    assert "Traceback" not in ran.err

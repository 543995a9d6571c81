"""The operator's HTTP surface on a real worker: /, /status.json, /metrics, POST /model/reload,
and the status page in a real headless Chromium."""

from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import expect
from prometheus_client.parser import text_string_to_metric_families

from devstack.worker import WorkerProcess, http_get
from models import registry
from streams.settings import Settings
from tests.browser import chromium_path, open_page, screenshot, wait_for_text
from tests.conftest import RunningStack, topics_deleted_after
from tests.harness import collect, eventually, produce
from tests.integration.conftest import TrainedRegistry
from tests.integration.module_worker import module_settings, ready_worker
from tests.integration.test_pipeline_e2e import by_request, livescore, request
from tests.tools import require_tool

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
TOKEN = "op-token-åäö-42"  # non-ASCII on purpose: the comparison must be on bytes


@pytest.fixture(scope="module")
def ops_settings(
    stack: RunningStack, trained_registry: TrainedRegistry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    # No alias polling: only POST /model/reload may swap the model in this module.
    settings = module_settings(
        stack,
        trained_registry,
        tmp_path_factory.mktemp("ops-http"),
        admin_token=TOKEN,
        model_poll_seconds=3600.0,
    )
    with topics_deleted_after(settings):
        yield settings


@pytest.fixture(scope="module")
def ops_worker(
    ops_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    log = tmp_path_factory.mktemp("ops-http-log") / "worker.log"
    with ready_worker(ops_settings, log) as process:
        yield process


def post(url: str, token: str | None = None, scheme: str = "Bearer") -> tuple[int, dict]:
    req = urllib.request.Request(url, method="POST", data=b"")
    if token is not None:
        req.add_header("Authorization", f"{scheme} {token}".encode().decode("latin-1"))
    try:
        with urllib.request.urlopen(req, timeout=60) as response:  # loopback test URL
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_root_is_our_status_page_not_fausts_index(ops_worker: WorkerProcess) -> None:
    with urllib.request.urlopen(f"{ops_worker.base_url}/", timeout=5) as response:
        body = response.read().decode()
        assert response.headers["Content-Type"].startswith("text/html")
    assert "<title>SoccerPredict Stream" in body and "status.json" in body
    assert '"status": "OK"' not in body


async def test_status_json_reports_model_features_redis_and_lag(
    ops_worker: WorkerProcess, ops_settings: Settings
) -> None:
    status, body = http_get(f"{ops_worker.base_url}/status.json")
    report = json.loads(body)
    assert status == 200 and report["problems"] == []
    assert report["model"]["serving"]["version"] == "1"
    assert report["redis"] == {"ok": True, "error": None, "pending": 0}
    assert report["features"]["version"] and report["features"]["teams"] > 0
    assert set(report["events_per_second"]) == {
        ops_settings.livescores_topic,
        ops_settings.match_requests_topic,
    }
    # The lag task measures every 2 s once partitions are assigned.
    partitions = await eventually(
        lambda: json.loads(http_get(f"{ops_worker.base_url}/status.json")[1])["lag"]["partitions"],
        "the first lag measurement",
        timeout=10,
    )
    topics = {p["topic"] for p in partitions}
    assert topics == {ops_settings.livescores_topic, ops_settings.match_requests_topic}


async def test_metrics_parse_with_promtool_and_the_python_parser(
    ops_worker: WorkerProcess, ops_settings: Settings, trained_registry: TrainedRegistry
) -> None:
    match_id = trained_registry.match_ids()[-1]
    await produce(
        ops_settings,
        ops_settings.livescores_topic,
        [livescore(match_id, 0, 0, 0, 0), (b"k", b"not json")],
    )
    await collect(ops_settings, ops_settings.predictions_topic, lambda rs: len(rs) >= 1, 30)
    await collect(ops_settings, ops_settings.predictions_dlq_topic, lambda rs: len(rs) >= 1, 30)

    def with_lag() -> str | None:
        # The lag gauge appears with the lag task's first measurement.
        text = http_get(f"{ops_worker.base_url}/metrics")[1].decode()
        return text if "soccer_consumer_lag{" in text else None

    text = await eventually(with_lag, "the lag gauge on /metrics", timeout=10)

    promtool = require_tool("promtool")
    checked = await asyncio.to_thread(
        subprocess.run,
        [promtool, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    families = {f.name: f for f in text_string_to_metric_families(text)}
    expected = {
        "soccer_events_in": "counter",
        "soccer_predictions": "counter",
        "soccer_dead_letters": "counter",
        "soccer_event_to_prediction_seconds": "histogram",
        "soccer_inference_seconds": "histogram",
        "soccer_batch_size": "histogram",
        "soccer_batch_stage_seconds": "histogram",
        "soccer_serving_model_info": "gauge",  # the text format has no info type
        "soccer_feature_table_age_seconds": "gauge",
        "soccer_redis_errors": "counter",
        "soccer_consumer_lag": "gauge",
    }
    assert {name: families[name].type for name in expected} == expected

    def value(family: str, sample: str, **labels: str) -> float:
        return next(
            s.value
            for s in families[family].samples
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
        )

    assert (
        value("soccer_events_in", "soccer_events_in_total", topic=ops_settings.livescores_topic)
        == 2
    )
    assert value("soccer_predictions", "soccer_predictions_total", trigger="livescore") == 1
    assert value("soccer_dead_letters", "soccer_dead_letters_total", reason="invalid_json") == 1
    assert value("soccer_serving_model_info", "soccer_serving_model_info", version="1") == 1
    for stage in ("compute", "produce", "redis"):
        assert (
            value("soccer_batch_stage_seconds", "soccer_batch_stage_seconds_count", stage=stage)
            >= 1
        ), stage
    lag_partitions = {
        s.labels["partition"]
        for s in families["soccer_consumer_lag"].samples
        if s.labels["topic"] == ops_settings.livescores_topic
    }
    assert lag_partitions == {"0", "1", "2", "3"}


async def test_status_page_in_headless_chromium(
    ops_worker: WorkerProcess,
    ops_settings: Settings,
    trained_registry: TrainedRegistry,
) -> None:
    chromium_path()  # before the request: without a browser, fail at once
    match_id = trained_registry.match_ids()[-2]
    await produce(ops_settings, ops_settings.match_requests_topic, [request(match_id, "page-req")])
    await collect(
        ops_settings,
        ops_settings.predictions_topic,
        lambda rs: "page-req" in by_request(rs),
        timeout=30,
    )
    version = json.loads(http_get(f"{ops_worker.base_url}/model")[1])["version"]
    async with open_page(f"{ops_worker.base_url}/") as (page, problems):
        text = await wait_for_text(page, f"soccer_clf v{version}", match_id, "request page-req")
        # One more refresh must stay clean too. The page asks for status.json again only
        # once it has drawn the last answer, so two more requests prove one more drawing.
        for _ in range(2):
            async with page.expect_request(lambda r: r.url.endswith("/status.json")):
                pass
        # A drawing that throws is caught by the page, which then shows "status unavailable".
        await expect(page.locator("#health")).to_have_text("all systems ok")
        shot = await screenshot(page, "status_page.png")
        assert problems == [], problems
    assert "all systems ok" in text
    assert ops_settings.livescores_topic in text  # throughput and lag rows name the topics
    assert shot.stat().st_size > 10_000


def test_reload_refuses_missing_and_wrong_tokens(ops_worker: WorkerProcess) -> None:
    url = f"{ops_worker.base_url}/model/reload"
    for token, scheme in ((None, "Bearer"), ("wrong", "Bearer"), (TOKEN, "Basic"), ("", "Bearer")):
        status, body = post(url, token, scheme)
        assert status == 401, (token, scheme, body)
        assert "token" in body["error"]
    assert http_get(url)[0] == 405  # GET is not a way around it


def test_reload_swaps_to_a_newly_aliased_version(
    ops_worker: WorkerProcess, trained_registry: TrainedRegistry, tmp_path: Path
) -> None:
    url = f"{ops_worker.base_url}/model/reload"
    status, body = post(url, TOKEN)
    assert (status, body["swapped"], body["version"]) == (200, False, "1")

    trained_registry.train(seed=1, features_dir=tmp_path / "features-v2")
    registry.set_alias("soccer_clf", "champion", "2", trained_registry.tracking_uri)
    assert json.loads(http_get(f"{ops_worker.base_url}/model")[1])["version"] == "1"

    status, body = post(url, TOKEN)
    assert (status, body["swapped"], body["version"]) == (200, True, "2")
    assert (
        body["serving"]["run_id"]
        == registry.resolve_alias("soccer_clf", "champion", trained_registry.tracking_uri).run_id
    )
    assert json.loads(http_get(f"{ops_worker.base_url}/model")[1])["version"] == "2"


HOSTILE = '<img src=x onerror="window.__xss=1">'


async def test_status_page_shows_hostile_names_as_text(
    ops_worker: WorkerProcess, ops_settings: Settings
) -> None:
    """A match id and team names that are HTML: the page shows them as text, runs nothing
    of them, and every response carries the hardening headers."""
    match_id = f"xss-{HOSTILE}"
    event = livescore(match_id, 1, 12, 0, 0, home_team=HOSTILE, away_team="Brazil")
    await produce(ops_settings, ops_settings.livescores_topic, [event])
    await collect(
        ops_settings,
        ops_settings.predictions_topic,
        lambda rs: any(r["match_id"] == match_id for r in rs),
        timeout=30,
    )
    async with open_page(f"{ops_worker.base_url}/") as (page, problems):
        await wait_for_text(page, HOSTILE)
        assert await page.evaluate("window.__xss === undefined")
        assert await page.locator("img[src=x]").count() == 0
        assert problems == [], problems
    for path in ("/", "/status.json", "/ready", "/metrics"):
        response = await asyncio.to_thread(
            urllib.request.urlopen, f"{ops_worker.base_url}{path}", timeout=10
        )
        headers = response.headers
        response.close()
        assert "default-src 'none'" in headers["Content-Security-Policy"], path
        assert headers["X-Content-Type-Options"] == "nosniff", path

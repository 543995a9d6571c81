"""The service scores itself: live scores against results, challengers in shadow, and
promotion on evidence, through running workers, the real Kafka, Redis and an MLflow
registry. The challengers are real registry versions: an exact copy of the champion, or
one that misbehaves on purpose (``tests/integration/sabotaged_model.py``).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from playwright.async_api import Page
from prometheus_client.parser import text_string_to_metric_families

from devstack.supervisor import free_port
from devstack.worker import WorkerProcess, http_get
from models import registry
from models.paired import paired_difference
from models.scoring import forecast_scores
from schemas import OUTCOMES, phase_of
from schemas.features import MATCHES_FILE
from streams.read_models.scoring import outcome_of
from streams.settings import Settings
from tests.browser import chromium_path, open_page, screenshot, wait_for_text
from tests.harness import collect, produce
from tests.integration.conftest import TrainedRegistry
from tests.integration.registry_versions import sabotaged_version
from tests.integration.test_pipeline_e2e import livescore, request

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
NAME = "soccer_clf"
#: The in-play states each test match passes through before it finishes.
LIVE_MINUTES = (10, 40, 70)


@pytest.fixture(scope="module")
def armed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """While this file exists, the ``raise`` and ``slow`` versions misbehave."""
    return tmp_path_factory.mktemp("armed") / "armed"


@pytest.fixture(scope="module")
def versions(
    trained_registry: TrainedRegistry, armed: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    """The trained champion (v1) and the challengers the tests put aliases on."""
    uri, artifacts = trained_registry.tracking_uri, tmp_path_factory.mktemp("sabotaged")
    out = {"real": "1", "copy": registry.copy_version(NAME, "1", uri)}
    for mode in ("mirror", "raise", "slow", "hang"):
        out[mode] = sabotaged_version(uri, "1", mode, artifacts, armed_by=armed)
    return out


@pytest.fixture
def aliases(trained_registry: TrainedRegistry) -> Iterator[Callable[..., None]]:
    """Point aliases at versions for one test; the champion goes back to v1 afterwards."""
    uri = trained_registry.tracking_uri
    touched: set[str] = set()

    def point(**alias_to_version: str) -> None:
        for alias, version in alias_to_version.items():
            registry.set_alias(NAME, alias, version, uri)
            touched.add(alias)

    yield point
    client = registry.client(uri)
    for alias in touched - {"champion"}:
        client.delete_registered_model_alias(NAME, alias)
    registry.set_alias(NAME, "champion", "1", uri)


def real_results(trained_registry: TrainedRegistry, count: int) -> pd.DataFrame:
    """The last ``count`` matches of the feature tables, with their real scores."""
    matches = pd.read_parquet(trained_registry.features_dir / MATCHES_FILE)
    if "match_id" in matches.columns:
        matches = matches.set_index("match_id")
    return matches.tail(count)


async def play(settings: Settings, results: pd.DataFrame) -> None:
    """Each match: a request before kick-off (answered first), three live states, the end."""
    ids = [str(m) for m in results.index]
    await produce(
        settings,
        settings.match_requests_topic,
        [request(mid, f"pre-{mid}") for mid in ids],
    )
    await collect(
        settings,
        settings.predictions_topic,
        lambda rs: {r["request_id"] for r in rs} >= {f"pre-{mid}" for mid in ids},
        timeout=60,
    )
    events = []
    for mid, row in zip(ids, results.itertuples(), strict=True):
        home, away = int(row.home_score), int(row.away_score)
        for seq, minute in enumerate(LIVE_MINUTES, 1):
            # The score so far: a share of the final one, never above it.
            share = minute / 90
            events.append(livescore(mid, seq, minute, int(home * share), int(away * share)))
        events.append(livescore(mid, len(LIVE_MINUTES) + 1, 90, home, away, status="finished"))
    await produce(settings, settings.livescores_topic, events)


def model_body(worker: WorkerProcess) -> dict[str, Any]:
    status, body = http_get(f"{worker.base_url}/model")
    assert status == 200, body
    return dict(json.loads(body))


def wait_for(what: str, check: Callable[[], Any], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout:.0f}s")
        time.sleep(0.5)


def scored(worker: WorkerProcess, version: str, phase: str) -> int:
    for entry in model_body(worker)["evaluation"]["versions"]:
        if entry["version"] == version:
            return sum(p["n"] for p in entry["phases"] if p["phase"] == phase)
    return 0


def metric(worker: WorkerProcess, name: str, **labels: str) -> float:
    text = http_get(f"{worker.base_url}/metrics")[1].decode()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def launch(settings: Settings, log: Path, **changes: Any) -> WorkerProcess:
    own = Settings(**settings.model_dump() | changes)
    worker = WorkerProcess(own, log).launch()
    worker.wait_ready()
    return worker


def offline_scores(
    forecasts: list[dict[str, Any]], results: pd.DataFrame
) -> dict[tuple[str, str], dict[str, float]]:
    """What the service should report, worked out from the predictions it published: per
    version and phase, the last forecast of each match (of its newest state), scored."""
    last: dict[tuple[str, str, str], dict[str, Any]] = {}
    for record in forecasts:
        phase = phase_of(record["status"], record["minute"])
        if phase is None:
            continue
        key = (record["model"]["version"], phase, record["match_id"])
        rank = -1 if record["seq"] is None else record["seq"]
        held = last.get(key)
        if held is None or rank >= (-1 if held["seq"] is None else held["seq"]):
            last[key] = record
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = collections.defaultdict(list)
    for (version, phase, _), record in last.items():
        grouped[(version, phase)].append(record)
    out = {}
    for key, records in grouped.items():
        proba = [[r["probabilities"][o] for o in OUTCOMES] for r in records]
        labels = [
            outcome_of(int(results.loc[r["match_id"], "home_score"]),
                       int(results.loc[r["match_id"], "away_score"]))
            for r in records
        ]  # fmt: skip
        each = forecast_scores(proba, labels)
        out[key] = {
            "n": len(records),
            "log_loss": float(each.log_loss.mean()),
            "brier": float(each.brier.mean()),
            "rps": float(each.rps.mean()),
            "losses": dict(zip([r["match_id"] for r in records], each.log_loss, strict=True)),
        }
    return out


#: The quality panel's parts whose boxes the layout check compares: its card, each table,
#: the chart.
QUALITY_PARTS = {
    "card": "#quality",
    "scores": "#scores",
    "comparisons": "#comparisons",
    "chart": "#quality figure",
}
#: Of the status page's cards, the titles of those whose content is wider than they are.
OVERFLOWING_CARDS = """(cards) => cards
  .filter((card) => card.scrollWidth > card.clientWidth)
  .map((card) => card.querySelector("h2").textContent.trim())"""


async def box(page: Page, selector: str) -> dict[str, float]:
    """The edges of ``selector``'s box as the browser lays it out, in CSS pixels."""
    b = await page.locator(selector).bounding_box()
    assert b is not None, f"{selector} is not laid out"
    right, bottom = b["x"] + b["width"], b["y"] + b["height"]
    return {"left": b["x"], "top": b["y"], "right": right, "bottom": bottom}


async def check_status_page_layout(page: Page, width: int, chart_beside: bool) -> None:
    """At ``width``, every card holds its content, and no table of the quality panel runs
    under the calibration chart; the chart stands beside the tables, or under them in a
    narrow window."""
    await page.set_viewport_size({"width": width, "height": 1000})
    await screenshot(page, f"status_page_model_quality_{width}.png")
    overflowing = await page.locator(".card").evaluate_all(OVERFLOWING_CARDS)
    assert overflowing == [], (width, overflowing)
    boxes = {name: await box(page, selector) for name, selector in QUALITY_PARTS.items()}
    card, chart = boxes["card"], boxes["chart"]
    assert card["left"] <= chart["left"] and chart["right"] <= card["right"], (width, boxes)
    for name in ("scores", "comparisons"):
        table = boxes[name]
        assert card["left"] <= table["left"] and table["right"] <= card["right"], (width, boxes)
        if chart_beside:
            assert table["right"] <= chart["left"], (name, width, boxes)
        else:
            assert table["bottom"] <= chart["top"], (name, width, boxes)


def served_scores(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, float]]:
    return {
        (entry["version"], phase["phase"]): phase
        for entry in body["evaluation"]["versions"]
        for phase in entry["phases"]
    }


async def test_live_scores_equal_offline_scores_and_survive_a_restart(
    worker_settings: Settings,
    trained_registry: TrainedRegistry,
    versions: dict[str, str],
    aliases: Callable[..., None],
    tmp_path: Path,
) -> None:
    chromium_path()  # before the replay: without a browser, fail at once
    aliases(challenger=versions["mirror"])
    results = real_results(trained_registry, 24)
    worker = launch(worker_settings, tmp_path / "w1.log", shadow_wait_seconds=2.0)
    try:
        wait_for("the challenger", lambda: model_body(worker)["challengers"])
        await play(worker_settings, results)
        for version in (versions["real"], versions["mirror"]):
            wait_for(
                f"v{version}'s last phase scored",
                lambda v=version: scored(worker, v, "60+") == len(results),
            )
        served = served_scores(model_body(worker))

        champion = await collect(
            worker_settings, worker_settings.predictions_topic, lambda rs: False, timeout=5
        )
        shadow = await collect(
            worker_settings, worker_settings.predictions_shadow_topic, lambda rs: False, timeout=5
        )
        assert {r["model"]["version"] for r in champion} == {versions["real"]}
        assert {r["model"]["version"] for r in shadow} == {versions["mirror"]}
        client = aioredis.Redis.from_url(worker_settings.redis_url.get_secret_value())
        try:
            for mid in results.index:
                stored = json.loads(await client.get(worker_settings.redis_key(str(mid))))
                assert stored["model"]["version"] == versions["real"], "a shadow answer in Redis"
        finally:
            await client.aclose()

        expected = offline_scores(champion + shadow, results)
        assert set(served) == set(expected)
        for key, offline in expected.items():
            for score in ("log_loss", "brier", "rps"):
                assert served[key][score] == pytest.approx(offline[score], abs=1e-9), (key, score)
            assert served[key]["n"] == offline["n"]
        body = model_body(worker)
        [comparison] = body["evaluation"]["comparisons"]
        assert comparison["n"] == len(results)
        pairs = [
            np.mean([expected[(v, p)]["losses"][str(mid)] for p in ("pre", "0-29", "30-59", "60+")])
            for v in (versions["real"], versions["mirror"])
            for mid in results.index
        ]  # fmt: skip
        ours, theirs = pairs[: len(results)], pairs[len(results) :]
        assert comparison["difference"] == pytest.approx(
            paired_difference(ours, theirs).mean, abs=1e-9
        )
        assert comparison["low"] <= comparison["difference"] <= comparison["high"]
    finally:
        worker.stop()

    # A new worker rebuilds the scores from the scores topic.
    again = launch(worker_settings, tmp_path / "w2.log")
    try:
        wait_for("the rebuilt scores", lambda: served_scores(model_body(again)) == served)
        async with open_page(f"{again.base_url}/") as (page, problems):
            text = await wait_for_text(page, "MODEL QUALITY, LIVE", f"v{versions['mirror']}")
            lines = await page.locator("#calibration polyline").count()
            await screenshot(page, "status_page_model_quality.png")
            for width, chart_beside in ((1280, True), (800, False)):
                await check_status_page_layout(page, width, chart_beside)
            assert problems == [], problems
        assert lines == 2, "one calibration line per scored version"
        assert "challenger" in text
    finally:
        again.stop()


async def test_failing_and_slow_challengers_leave_the_champion_untouched(
    worker_settings: Settings,
    trained_registry: TrainedRegistry,
    versions: dict[str, str],
    aliases: Callable[..., None],
    armed: Path,
    tmp_path: Path,
) -> None:
    budget = 0.1
    worker = launch(
        worker_settings,
        tmp_path / "w.log",
        challenger_aliases="broken,slow",
        shadow_wait_seconds=budget,
    )
    ids = trained_registry.match_ids()[-20:]

    sent: dict[str, dt.datetime] = {}

    async def answers(tag: str) -> dict[str, dict[str, Any]]:
        producer = AIOKafkaProducer(bootstrap_servers=worker_settings.kafka_bootstrap_servers)
        await producer.start()
        try:
            for mid in ids:  # one at a time: each request is a batch of its own
                key, value = request(mid, f"{tag}-{mid}")
                sent[f"{tag}-{mid}"] = dt.datetime.now(dt.UTC)
                await producer.send_and_wait(worker_settings.match_requests_topic, value, key=key)
                await asyncio.sleep(0.05)
        finally:
            await producer.stop()
        wanted = {f"{tag}-{mid}" for mid in ids}
        found = await collect(
            worker_settings,
            worker_settings.predictions_topic,
            lambda rs: {r["request_id"] for r in rs} >= wanted,
            timeout=60,
        )
        return {r["request_id"]: r for r in found if r["request_id"] in wanted}

    def latencies(answered: dict[str, dict[str, Any]]) -> list[float]:
        # From the send to the prediction: a wait on a challenger would show as queueing.
        return [
            (dt.datetime.fromisoformat(r["predicted_at"]) - sent[rid]).total_seconds()
            for rid, r in answered.items()
        ]

    try:
        alone = await answers("alone")
        aliases(broken=versions["raise"], slow=versions["slow"])
        wait_for("both challengers", lambda: len(model_body(worker)["challengers"]) == 2)
        await asyncio.to_thread(armed.touch)  # now one raises, one sleeps in every call
        try:
            beside = await answers("beside")
        finally:
            await asyncio.to_thread(armed.unlink)

        for mid in ids:
            a, b = alone[f"alone-{mid}"], beside[f"beside-{mid}"]
            assert b["model"]["version"] == versions["real"]
            # Equal up to rounding: a batch of two rows sums in another order than one row.
            assert b["probabilities"] == pytest.approx(a["probabilities"], abs=1e-12), mid
        assert np.median(latencies(beside)) < np.median(latencies(alone)) + 0.05

        shadow = await collect(
            worker_settings, worker_settings.predictions_shadow_topic, lambda rs: False, timeout=3
        )
        assert versions["raise"] not in {r["model"]["version"] for r in shadow}
        assert metric(worker, "soccer_shadow_skipped_total", reason="error") >= 1
        slow_skips = sum(
            metric(worker, "soccer_shadow_skipped_total", version=versions["slow"], reason=r)
            for r in ("late", "busy")
        )
        assert slow_skips >= len(ids) // 2, "the slow challenger held batches up"
        waited = metric(worker, "soccer_shadow_wait_seconds_count")
        within = metric(worker, "soccer_shadow_wait_seconds_bucket", le="0.25")
        assert waited > 0 and within == waited, "a batch waited past the budget"
        assert model_body(worker)["version"] == versions["real"]
    finally:
        worker.stop()


async def test_a_clearly_better_challenger_is_promoted_once_by_two_workers(
    worker_settings: Settings,
    trained_registry: TrainedRegistry,
    versions: dict[str, str],
    aliases: Callable[..., None],
    tmp_path: Path,
) -> None:
    uri = trained_registry.tracking_uri
    aliases(champion=versions["mirror"], challenger=versions["real"])
    auto = {
        "auto_promote": True,
        "promote_min_matches": 30,
        "promote_check_seconds": 1.0,
        "shadow_wait_seconds": 2.0,
    }
    workers = [
        launch(worker_settings, tmp_path / "w0.log", **auto),
        launch(
            worker_settings,
            tmp_path / "w1.log",
            web_port=free_port(),
            state_dir=tmp_path / "s1",
            **auto,
        ),
    ]
    try:
        for worker in workers:
            wait_for("the challenger", lambda w=worker: model_body(w)["challengers"])
        await play(worker_settings, real_results(trained_registry, 40))
        wait_for(
            "the promotion",
            lambda: registry.alias_version(NAME, "champion", uri) == versions["real"],
            timeout=120,
        )

        # The promoter tags the version right after it moves the alias: wait for both.
        def evidence_tags() -> dict[str, str] | None:
            tags = registry.version_tags(NAME, versions["real"], uri)
            return tags if "promotion.evidence" in tags else None

        tags = wait_for("the promotion's evidence", evidence_tags, timeout=30)
        evidence = json.loads(tags["promotion.evidence"])
        assert tags["promotion.previous_champion"] == versions["mirror"]
        assert evidence["n"] >= 30 and evidence["low"] > 0
        for worker in workers:
            wait_for(
                "every worker to follow the alias",
                lambda w=worker: model_body(w)["version"] == versions["real"],
            )
        promoted = [metric(w, "soccer_promotions_total", how="auto") for w in workers]
        assert sum(promoted) == 1, f"the alias was moved {promoted} times"
    finally:
        for worker in workers:
            worker.stop()


async def test_an_equal_challenger_is_not_promoted(
    worker_settings: Settings,
    trained_registry: TrainedRegistry,
    versions: dict[str, str],
    aliases: Callable[..., None],
    tmp_path: Path,
) -> None:
    aliases(challenger=versions["copy"])
    worker = launch(
        worker_settings,
        tmp_path / "w.log",
        auto_promote=True,
        promote_min_matches=20,
        promote_check_seconds=1.0,
        shadow_wait_seconds=2.0,
    )
    try:
        wait_for("the challenger", lambda: model_body(worker)["challengers"])
        await play(worker_settings, real_results(trained_registry, 24))

        def compared() -> dict[str, Any] | None:
            found = model_body(worker)["evaluation"]["comparisons"]
            return found[0] if found and found[0]["n"] >= 20 else None

        comparison = wait_for("20 shared matches", compared)
        # The promoter judges on the same board, and checks with the evidence in hand are
        # the ones counted from here on: wait for three, so "not promoted" means judged so.
        checks = metric(worker, "soccer_promotion_checks_total")
        wait_for(
            "three promoter checks with the evidence in hand",
            lambda: metric(worker, "soccer_promotion_checks_total") >= checks + 3,
            timeout=30,
        )
        assert comparison["difference"] == 0 and comparison["verdict"] == "no clear difference"
        assert registry.alias_version(NAME, "champion", trained_registry.tracking_uri) == "1"
        assert metric(worker, "soccer_promotions_total") == 0
    finally:
        worker.stop()


# -- The stall watchdog (issue 16): progress, not liveness ------------------------------


def ready_body(worker: WorkerProcess) -> tuple[int, dict[str, Any]]:
    status, body = http_get(f"{worker.base_url}/ready")
    return status, dict(json.loads(body))


def metric_value(worker: WorkerProcess, name: str) -> float:
    _, body = http_get(f"{worker.base_url}/metrics")
    return sum(
        sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name == name
    )


async def test_a_stuck_model_stalls_its_partitions_and_recovers(
    worker_settings: Settings,
    trained_registry: TrainedRegistry,
    versions: dict[str, str],
    aliases: Callable[..., None],
    armed: Path,
    tmp_path: Path,
) -> None:
    """The model hangs in its thread: the process is alive and its dependencies are up,
    but nothing commits. /ready names the stalled partitions within STALL_SECONDS (and a
    few seconds of measuring), and clears once the model returns."""
    aliases(champion=versions["hang"])
    worker = launch(worker_settings, tmp_path / "w.log", stall_seconds=4.0, challenger_aliases="")
    try:
        # 50 events a partition, produced at once: batches of more than INLINE_ROWS, which
        # predict in a thread (the hang blocks only those; one on the loop would block it).
        ids = trained_registry.match_ids()[-200:]
        await asyncio.to_thread(armed.touch)
        await produce(
            worker_settings,
            worker_settings.livescores_topic,
            [livescore(mid, 1, 30, 0, 0) for mid in ids],
        )
        wait_for(
            "a stall on /ready",
            lambda: any(r.startswith("stalled: ") for r in ready_body(worker)[1]["reasons"]),
            timeout=60,
        )
        assert metric_value(worker, "soccer_partition_stalled") >= 1
        assert metric_value(worker, "soccer_ready") == 0
        await asyncio.to_thread(armed.unlink)
        wait_for("ready again", lambda: ready_body(worker)[0] == 200, timeout=40)
        assert metric_value(worker, "soccer_partition_stalled") == 0
        assert metric_value(worker, "soccer_partition_stalls_total") >= 1
    finally:
        await asyncio.to_thread(armed.unlink, missing_ok=True)
        worker.stop()


async def test_a_slow_but_progressing_worker_is_never_stalled(
    worker_settings: Settings,
    trained_registry: TrainedRegistry,
    versions: dict[str, str],
    aliases: Callable[..., None],
    armed: Path,
    tmp_path: Path,
) -> None:
    """Every batch takes 2 s (the slow model, batches of 10), so 300 events are lag for a
    long while, yet the committed offset keeps moving: never a stall. (STALL_SECONDS is
    many batches long, as in production: 60 s against batches of ms; a loaded CI machine
    took 14 s to commit the first batch, so 30 s here.)"""
    aliases(champion=versions["slow"])
    worker = launch(
        worker_settings,
        tmp_path / "w.log",
        stall_seconds=30.0,
        batch_size=10,
        challenger_aliases="",
        # One partition: every batch is progress on it. With several, a partition whose
        # events queue behind 30 s of other partitions' 2 s batches would rightly be
        # starved for longer than STALL_SECONDS.
        topic_partitions=1,
    )
    try:
        ids = trained_registry.match_ids()[-300:]
        await asyncio.to_thread(armed.touch)
        await produce(
            worker_settings,
            worker_settings.livescores_topic,
            [livescore(mid, 1, 30, 0, 0) for mid in ids],
        )
        saw_lag, deadline = False, time.monotonic() + 40
        while time.monotonic() < deadline:
            _status, body = ready_body(worker)
            assert not [r for r in body["reasons"] if r.startswith("stalled")], body
            saw_lag = saw_lag or metric_value(worker, "soccer_consumer_lag") > 0
            await asyncio.sleep(1)
        assert saw_lag, "the test never saw lag: it proved nothing"
        assert metric_value(worker, "soccer_partition_stalls_total") == 0
    finally:
        await asyncio.to_thread(armed.unlink, missing_ok=True)
        worker.stop()

"""Match pages on a real worker: a replayed match drawn in headless Chromium, its chart
against Redis, and the chart again after a restart (state rebuilt from the changelog)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from playwright.async_api import Page, expect

from devstack.supervisor import free_port
from devstack.worker import WorkerProcess, http_get
from streams.settings import Settings
from tests.browser import chromium_path, open_page, screenshot, wait_for_text
from tests.conftest import RunningStack, topics_deleted_after
from tests.harness import collect, produce
from tests.integration.conftest import TrainedRegistry
from tests.integration.module_worker import module_settings
from tests.integration.test_pipeline_e2e import livescore, request

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
#: Not in the feature tables: the events name the teams.
MATCH = "wc-final"
HOME, AWAY = "Argentina", "France"
TEAMS = {"home_team": HOME, "away_team": AWAY, "tournament": "FIFA World Cup"}
FIRST_HALF = [(0, 0, 0, {}), (23, 1, 0, {}), (36, 2, 0, {}), (45, 2, 0, {"status": "halftime"})]
SECOND_HALF = [(58, 2, 1, {}), (67, 2, 1, {"away_red_cards": 1}), (81, 2, 2, {}), (90, 2, 2, {})]
#: A match whose team names are markup: shown as text, never parsed.
XSS_MATCH = "xss-names"
XSS_HOME = '<img src=x onerror="document.title=1">Atlantis'
XSS_AWAY = "Lemuria & <b>Co</b>"
MARKUP = "document.querySelectorAll('img, b, script:not(:first-of-type)').length"


@pytest.fixture(scope="module")
def pages_settings(
    stack: RunningStack, trained_registry: TrainedRegistry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    settings = module_settings(stack, trained_registry, tmp_path_factory.mktemp("match-pages"))
    with topics_deleted_after(settings):
        yield settings


@pytest.fixture(scope="module")
def pages_worker(
    pages_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    process = WorkerProcess(pages_settings, tmp_path_factory.mktemp("logs") / "w.log").launch()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def events(states: list[tuple[int, int, int, dict[str, Any]]], first_seq: int) -> list:
    return [
        livescore(MATCH, first_seq + i, minute, home, away, **(TEAMS | extra))
        for i, (minute, home, away, extra) in enumerate(states)
    ]


async def predictions_of(settings: Settings, match_id: str, count: int) -> list[dict[str, Any]]:
    records = await collect(
        settings,
        settings.predictions_topic,
        lambda rs: sum(r["match_id"] == match_id for r in rs) >= count,
        timeout=30,
    )
    return [r for r in records if r["match_id"] == match_id]


async def redis_value(settings: Settings, match_id: str) -> dict[str, Any]:
    url = settings.redis_url
    # REDIS_URL may carry credentials, so it may be a secret.
    plain = url.get_secret_value() if hasattr(url, "get_secret_value") else url
    client = aioredis.from_url(str(plain))
    try:
        return dict(json.loads(await client.get(settings.redis_key(match_id))))
    finally:
        await client.aclose()


def match_json(worker: WorkerProcess, match_id: str) -> dict[str, Any]:
    status, body = http_get(f"{worker.base_url}/matches/{match_id}.json")
    assert status == 200, body
    return dict(json.loads(body))


async def chart_points(page: Page, count: int, timeout: float = 15.0) -> list[dict[str, str]]:
    """The chart's points once it has ``count`` of them (the page redraws every 2 s)."""
    points = page.locator("#chart .point")
    await expect(points).to_have_count(count, timeout=timeout * 1000)
    return list(await points.evaluate_all("points => points.map(g => ({...g.dataset}))"))


def same_prediction(point: dict[str, str], stored: dict[str, Any]) -> bool:
    p = stored["probabilities"]
    seq = "" if stored["seq"] is None else str(stored["seq"])
    return (
        (float(point["home"]), float(point["draw"]), float(point["away"]))
        == (p["home"], p["draw"], p["away"])
        and point["seq"] == seq
        and point["version"] == stored["model"]["version"]
    )


async def test_a_replayed_match_in_headless_chromium(
    pages_worker: WorkerProcess, pages_settings: Settings
) -> None:
    chromium_path()  # before the replay: without a browser, fail at once
    pre_match = request(MATCH, "pre", **TEAMS)
    xss = request(XSS_MATCH, "xss", home_team=XSS_HOME, away_team=XSS_AWAY)
    await produce(pages_settings, pages_settings.match_requests_topic, [pre_match, xss])
    await predictions_of(pages_settings, MATCH, 1)
    await predictions_of(pages_settings, XSS_MATCH, 1)
    await produce(pages_settings, pages_settings.livescores_topic, events(FIRST_HALF, 0))
    await predictions_of(pages_settings, MATCH, 1 + len(FIRST_HALF))

    async with open_page(f"{pages_worker.base_url}/matches") as (page, problems):
        needles = (f"{HOME} v {AWAY}", "2-0", "halftime", f"{XSS_HOME} v {XSS_AWAY}")
        await wait_for_text(page, *needles)
        sparkline = await page.locator("#matches svg polyline").count()
        markup = await page.evaluate(MARKUP)
        await screenshot(page, "match_list.png")
        assert problems == [], problems
    assert sparkline == 6, "one line per outcome, per match"
    assert markup == 0, "team names are text, never markup"
    async with open_page(f"{pages_worker.base_url}/matches/{XSS_MATCH}") as (page, problems):
        await wait_for_text(page, f"{XSS_HOME} v {XSS_AWAY}")
        title, markup = await page.title(), await page.evaluate(MARKUP)
        assert problems == [], problems
    assert title.startswith(XSS_HOME) and markup == 0, "team names are text, never markup"

    url = f"{pages_worker.base_url}/matches/{MATCH}"
    async with open_page(url) as (page, problems):
        await wait_for_text(page, f"{HOME} v {AWAY}", "2 \u2013 0", "(model v")
        points = await chart_points(page, 1 + len(FIRST_HALF))
        assert same_prediction(points[-1], await redis_value(pages_settings, MATCH))
        # The second half arrives while the page is open: it redraws by itself.
        await produce(
            pages_settings, pages_settings.livescores_topic, events(SECOND_HALF, len(FIRST_HALF))
        )
        await produce(pages_settings, pages_settings.match_requests_topic, [request(MATCH, "late")])
        expected = 1 + len(FIRST_HALF) + len(SECOND_HALF) + 1
        published = await predictions_of(pages_settings, MATCH, expected)
        points = await chart_points(page, len(published))
        assert same_prediction(points[-1], await redis_value(pages_settings, MATCH))
        assert [p["kind"] for p in points][:2] == ["pre-match", "livescore"]
        marks = [
            await page.locator("#chart circle.ball").count(),
            await page.locator("#chart rect.red").count(),
        ]
        await screenshot(page, "match_page.png")
        assert problems == [], problems
    assert marks == [4, 1], "four goals and a red card marked"

    data = match_json(pages_worker, MATCH)
    assert [(e["kind"], e["side"], e["minute"]) for e in data["events"]] == [
        ("goal", "home", 23),
        ("goal", "home", 36),
        ("goal", "away", 58),
        ("red_card", "away", 67),
        ("goal", "away", 81),
    ]
    assert data["pre_match"]["kind"] == "pre-match"
    assert len(data["points"]) == len(published)


async def test_a_finished_match_shows_both_rating_changes(
    pages_worker: WorkerProcess, pages_settings: Settings
) -> None:
    # Known teams in a match the snapshot does not hold, so the stream applies its result.
    teams = sorted(json.loads(http_get(f"{pages_worker.base_url}/ratings")[1])["teams"])
    match_id = "rated-final"
    fixture = {"home_team": teams[0], "away_team": teams[1], "date": "2030-07-19"}
    states = [(0, 0, 0, {}), (50, 1, 0, {}), (90, 1, 0, {"status": "finished"})]
    await produce(
        pages_settings,
        pages_settings.livescores_topic,
        [
            livescore(match_id, i, m, h, a, **(fixture | extra))
            for i, (m, h, a, extra) in enumerate(states)
        ],
    )
    await predictions_of(pages_settings, match_id, len(states))
    data: dict[str, Any] = {}
    for _ in range(60):  # through the results topic to the ratings, the timeline beside
        data = match_json(pages_worker, match_id)
        if data["rating_changes"] and len(data["points"]) == len(states):
            break
        await asyncio.sleep(0.25)
    assert len(data["points"]) == len(states), "the timeline read model caught up"
    assert (data["status"], data["home_team"], data["away_team"]) == ("finished", *teams[:2])
    changes = data["rating_changes"]
    assert changes, "the stream applied the result"
    assert [c["team"] for c in changes] == teams[:2]
    assert changes[0]["change"] > 0 > changes[1]["change"], "the winner gains, the loser pays"


def match_list_of(worker: WorkerProcess) -> dict[str, Any]:
    status, body = http_get(f"{worker.base_url}/matches.json")
    assert status == 200, body
    return dict(json.loads(body))


async def test_a_match_page_on_a_worker_that_does_not_own_it(
    pages_worker: WorkerProcess, pages_settings: Settings, tmp_path: Path
) -> None:
    pages_worker.wait_read_models()
    alone = {m: match_json(pages_worker, m) for m in (MATCH, XSS_MATCH, "rated-final")}
    second_settings = Settings(
        **{
            **pages_settings.model_dump(),
            "web_port": free_port(),
            "state_dir": tmp_path / "second",
        }
    )
    second = WorkerProcess(second_settings, tmp_path / "second.log").launch()
    try:
        second.wait_ready()
        lists: list[dict[str, Any]] = []
        listed: list[set[str]] = []
        try:
            # Until the rebalance gave each worker a share and the new owners recovered it.
            async with asyncio.timeout(60):
                while True:
                    lists = [match_list_of(w) for w in (pages_worker, second)]
                    owned = [set(listed["partitions"]) for listed in lists]
                    listed = [{m["match_id"] for m in listed["matches"]} for listed in lists]
                    if (
                        all(owned)
                        and not owned[0] & owned[1]
                        and len(owned[0] | owned[1]) == 4
                        and listed[0] | listed[1] == set(alone)
                    ):
                        break
                    await asyncio.sleep(0.5)
        except TimeoutError:
            raise AssertionError(f"the matches were never listed once each: {lists}") from None
        # Each lists its own partitions' matches only, and names the other worker.
        assert not listed[0] & listed[1]
        assert lists[0]["other_workers"] == [lists[1]["served_by"]]
        # Either worker answers for every match: the owner's data, proxied by Faust's router.
        for match_id, before in alone.items():
            owner = lists[0 if match_id in listed[0] else 1]["served_by"]
            for worker in (pages_worker, second):
                seen = match_json(worker, match_id)
                assert seen["served_by"] == owner, (match_id, worker.base_url)
                assert seen["points"] == before["points"]
        stranger = next(
            w for w, ids in zip((pages_worker, second), listed, strict=True) if MATCH not in ids
        )
        async with open_page(f"{stranger.base_url}/matches/{MATCH}") as (page, problems):
            await chart_points(page, len(alone[MATCH]["points"]))
            assert problems == [], problems
    finally:
        second.stop()


async def test_the_chart_survives_a_restart(
    pages_worker: WorkerProcess, pages_settings: Settings, tmp_path: Path
) -> None:
    before = match_json(pages_worker, MATCH)
    assert len(before["points"]) >= 2, "the first test replayed the match"
    # Stopped, not killed: it leaves the group at once, so the restart waits for no session
    # timeout (a kill is tests/integration/test_worker_restart.py's); all state is in Kafka.
    pages_worker.stop()
    restarted = WorkerProcess(pages_settings, tmp_path / "restarted.log").launch()
    try:
        restarted.wait_ready()
        after = match_json(restarted, MATCH)
        async with open_page(f"{restarted.base_url}/matches/{MATCH}") as (page, problems):
            points = await chart_points(page, len(before["points"]))
            await screenshot(page, "match_page_restarted.png")
            assert problems == [], problems
    finally:
        restarted.stop()
    assert after["points"] == before["points"], "rebuilt from the changelog, point for point"
    assert same_prediction(points[-1], await redis_value(pages_settings, MATCH))

"""The read models on the real broker: the timelines, the forecasts and scores, and the
rating changes each survive a restart, move with a rebalance between two workers, and
take a duplicated input without a change (``streams.read_models``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.supervisor import free_port
from devstack.worker import WorkerProcess, http_get
from schemas import OUTCOMES
from streams.settings import Settings
from tests.conftest import RunningStack, topics_deleted_after
from tests.harness import collect, produce
from tests.integration.conftest import TrainedRegistry
from tests.integration.module_worker import module_settings
from tests.integration.test_pipeline_e2e import livescore, request

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

#: Matches the feature tables do not hold (so their results update the ratings), each
#: asked for before kick-off, then three live states and the end.
MATCHES = [f"rm-{i}" for i in range(8)]
LIVE = [(10, 0, 0), (40, 1, 0), (70, 1, 1)]
FINAL = (2, 1)


@pytest.fixture(scope="module")
def models_settings(
    stack: RunningStack, trained_registry: TrainedRegistry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    settings = module_settings(stack, trained_registry, tmp_path_factory.mktemp("read-models"))
    with topics_deleted_after(settings):
        yield settings


@pytest.fixture(scope="module")
def teams(models_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Team names the snapshot knows (the stream applies their results)."""
    probe = WorkerProcess(models_settings, tmp_path_factory.mktemp("probe") / "w.log").launch()
    try:
        probe.wait_ready()
        return sorted(json.loads(http_get(f"{probe.base_url}/ratings")[1])["teams"])
    finally:
        probe.stop()


def fixture_of(teams: list[str], i: int) -> dict[str, Any]:
    return {
        "home_team": teams[2 * i],
        "away_team": teams[2 * i + 1],
        "date": f"2030-07-{10 + i:02d}",
        "tournament": "FIFA World Cup",
    }


async def kick_off(settings: Settings, teams: list[str], ids: list[str]) -> None:
    """Each match's pre-match request (answered first) and its live states."""
    indexes = [MATCHES.index(m) for m in ids]
    await produce(
        settings,
        settings.match_requests_topic,
        [request(m, f"pre-{m}", **fixture_of(teams, i)) for m, i in zip(ids, indexes, strict=True)],
    )
    await collect(
        settings,
        settings.predictions_topic,
        lambda rs: {r["request_id"] for r in rs} >= {f"pre-{m}" for m in ids},
        timeout=60,
    )
    await produce(
        settings,
        settings.livescores_topic,
        [
            livescore(m, seq, minute, h, a, **fixture_of(teams, i))
            for m, i in zip(ids, indexes, strict=True)
            for seq, (minute, h, a) in enumerate(LIVE, 1)
        ],
    )


async def full_time(settings: Settings, teams: list[str], ids: list[str]) -> None:
    await produce(
        settings,
        settings.livescores_topic,
        [
            livescore(m, len(LIVE) + 1, 90, *FINAL, status="finished", **fixture_of(teams, i))
            for m, i in ((m, MATCHES.index(m)) for m in ids)
        ],
    )


def match_json(worker: WorkerProcess, match_id: str) -> dict[str, Any]:
    status, body = http_get(f"{worker.base_url}/matches/{match_id}.json")
    assert status == 200, body
    return dict(json.loads(body))


#: Probabilities and scores are compared to this many decimals: a prediction made again in
#: a batch of another size differs in its last bits (numpy's kernels vary with the rows).
DIGITS = 12


def timeline(worker: WorkerProcess, match_id: str) -> list[tuple[Any, ...]]:
    """What identifies each point of the match's page, with its probabilities."""
    return [
        (p["seq"], p["trigger"], p["model_version"], *(round(p[o], DIGITS) for o in OUTCOMES))
        for p in match_json(worker, match_id)["points"]
    ]


async def scores(settings: Settings, ids: list[str]) -> dict[str, tuple[float, ...]]:
    """The newest score record of each ``match|version|phase`` of ``ids`` (as the compacted
    topic keeps it), without when it was made."""
    records = await collect(settings, settings.scores_topic, lambda rs: False, timeout=3)
    newest: dict[str, tuple[float, ...]] = {}
    for r in records:
        if r["match_id"] in ids:
            newest[f"{r['match_id']}|{r['model_version']}|{r['phase']}"] = tuple(
                round(r[field], DIGITS) for field in ("home", "log_loss", "rps")
            )
    return newest


def views(worker: WorkerProcess, ids: list[str]) -> dict[str, Any]:
    """Every read model a worker serves for ``ids``: timelines and rating changes."""
    return {m: (timeline(worker, m), match_json(worker, m)["rating_changes"]) for m in ids}


async def settled(worker: WorkerProcess, settings: Settings, ids: list[str]) -> dict[str, Any]:
    """The read models once they applied every output: pages, and scores."""
    await asyncio.to_thread(worker.wait_read_models)
    return {"views": views(worker, ids), "scores": await scores(settings, ids)}


def launch(settings: Settings, log: Path) -> WorkerProcess:
    worker = WorkerProcess(settings, log).launch()
    worker.wait_ready()
    return worker


async def test_read_models_take_duplicates_survive_a_restart_and_move_with_a_rebalance(
    models_settings: Settings, teams: list[str], tmp_path: Path
) -> None:
    first, later = MATCHES[:4], MATCHES[4:]
    worker = launch(models_settings, tmp_path / "a.log")
    try:
        await kick_off(models_settings, teams, first)
        await full_time(models_settings, teams, first)
        await asyncio.to_thread(worker.wait_read_models)
        before = await settled(worker, models_settings, first)
        for m in first:
            points = before["views"][m][0]
            assert [(p[0], p[1]) for p in points] == [
                (None, "request"),
                (1, "livescore"),
                (2, "livescore"),
                (3, "livescore"),
                (4, "livescore"),
            ], "every prediction once, in seq order"
            assert before["views"][m][1], "the stream applied the result: rating changes"
        # Every version's last forecast in each of the four phases, scored once.
        assert {k.rsplit("|", 1)[1] for k in before["scores"]} == {"pre", "0-29", "30-59", "60+"}
        assert len(before["scores"]) == 4 * len(first)

        # Duplicates: every output record read again, and one input delivered twice.
        outputs = await collect(
            models_settings, models_settings.predictions_topic, lambda rs: False, 3
        )
        results = await collect(models_settings, models_settings.results_topic, lambda rs: False, 3)
        await produce(
            models_settings,
            models_settings.predictions_topic,
            [(r["match_id"].encode(), json.dumps(r).encode()) for r in outputs],
        )
        await produce(
            models_settings,
            models_settings.results_topic,
            [(r["match_id"].encode(), json.dumps(r).encode()) for r in results],
        )
        m0 = MATCHES.index(first[0])
        await produce(
            models_settings,
            models_settings.livescores_topic,
            [livescore(first[0], 2, 40, 1, 0, **fixture_of(teams, m0))],
        )
        await collect(
            models_settings,
            models_settings.predictions_topic,
            lambda rs: len(rs) >= 2 * len(outputs) + 1,
            timeout=30,
        )
        assert await settled(worker, models_settings, first) == before, "duplicates change nothing"

        # Forecasts made before the restart and the rebalance, scored after them.
        await kick_off(models_settings, teams, later)
        await asyncio.to_thread(worker.wait_read_models)
        made = {m: timeline(worker, m) for m in later}
    finally:
        worker.stop()

    # A restart: everything rebuilt from the changelogs and the results topic.
    restarted = launch(models_settings, tmp_path / "a2.log")
    second = None
    try:
        assert await settled(restarted, models_settings, first) == before
        assert {m: timeline(restarted, m) for m in later} == made

        # A rebalance: a second worker takes some partitions and their read models.
        second_settings = Settings(
            **models_settings.model_dump()
            | {"web_port": free_port(), "state_dir": tmp_path / "second"}
        )
        second = launch(second_settings, tmp_path / "b.log")
        owners: dict[str, str] = {}
        async with asyncio.timeout(90):
            while len(set(owners.values())) < 2 or set(owners) != set(MATCHES):
                await asyncio.sleep(0.5)
                for w in (restarted, second):
                    listed = json.loads(http_get(f"{w.base_url}/matches.json")[1])
                    owners |= {row["match_id"]: listed["served_by"] for row in listed["matches"]}
        await asyncio.to_thread(second.wait_read_models)
        for w in (restarted, second):  # either worker answers, for the owner, as before
            assert {m: v for m, v in views(w, first).items()} == before["views"]
            assert {m: timeline(w, m) for m in later} == made
        await full_time(models_settings, teams, later)
        for w in (restarted, second):
            await asyncio.to_thread(w.wait_read_models)
        scored = await scores(models_settings, later)
        # The owners after the rebalance scored the forecasts made before it.
        assert len(scored) == 4 * len(later)
        assert {k.rsplit("|", 1)[1] for k in scored} == {"pre", "0-29", "30-59", "60+"}
        changes = {m: match_json(restarted, m)["rating_changes"] for m in later}
        assert all(changes.values()) and changes == {
            m: match_json(second, m)["rating_changes"] for m in later
        }, "every worker folds every result: the same rating changes on both"
    finally:
        if second is not None:
            second.stop()
        restarted.stop()

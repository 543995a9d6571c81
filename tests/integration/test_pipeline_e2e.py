"""End to end through the real Kafka, Redis and an MLflow SQLite registry made here."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from devstack.worker import WorkerProcess, http_get
from models import registry
from streams.settings import Settings
from tests.harness import collect, produce
from tests.integration.conftest import TrainedRegistry

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def livescore(
    match_id: str, seq: int, minute: int, home: int, away: int, status: str = "live", **extra: Any
) -> tuple[bytes, bytes]:
    body = {
        "match_id": match_id,
        "seq": seq,
        "status": status,
        "minute": minute,
        "home_goals": home,
        "away_goals": away,
        "ts": (
            dt.datetime(2024, 6, 14, 19, tzinfo=dt.UTC) + dt.timedelta(minutes=minute)
        ).isoformat(),
    }
    return match_id.encode(), json.dumps(body | extra).encode()


def request(match_id: str, request_id: str, **extra: Any) -> tuple[bytes, bytes]:
    return match_id.encode(), json.dumps(
        {"request_id": request_id, "match_id": match_id} | extra
    ).encode()


def _payload(letter: dict[str, Any]) -> bytes:
    if letter["payload_encoding"] == "base64":
        return base64.b64decode(letter["payload"])
    return letter["payload"].encode()


def by_request(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["request_id"]: r for r in records if r["trigger"] == "request"}


async def test_request_is_answered_end_to_end(
    worker: WorkerProcess, worker_settings: Settings, trained_registry: TrainedRegistry
) -> None:
    match_id = trained_registry.match_ids()[-1]
    await produce(
        worker_settings, worker_settings.match_requests_topic, [request(match_id, "req-1")]
    )
    records = await collect(
        worker_settings,
        worker_settings.predictions_topic,
        lambda rs: "req-1" in by_request(rs),
        timeout=30,
    )
    answer = by_request(records)["req-1"]
    assert answer["match_id"] == match_id and answer["status"] == "scheduled"
    assert answer["seq"] is None and answer["minute"] == 0
    assert abs(sum(answer["probabilities"].values()) - 1) < 1e-6
    assert answer["predicted"] == max(answer["probabilities"], key=answer["probabilities"].get)
    champion = registry.resolve_alias("soccer_clf", "champion", trained_registry.tracking_uri)
    assert answer["model"] == {
        "name": "soccer_clf",
        "version": champion.version,
        "alias": "champion",
        "run_id": champion.run_id,
    }
    manifest = json.loads((trained_registry.features_dir / "manifest.json").read_text())
    # The snapshot, and how many results from the stream were applied on top (none yet).
    assert answer["features_version"] == f"{manifest['features_version']}+0"

    status, body = http_get(f"{worker.base_url}/predictions/{match_id}")
    assert status == 200 and json.loads(body) == answer
    assert http_get(f"{worker.base_url}/predictions/no-such-match")[0] == 404


async def test_live_match_probabilities_follow_the_score(
    worker: WorkerProcess, worker_settings: Settings, trained_registry: TrainedRegistry
) -> None:
    match_id = trained_registry.match_ids()[-2]
    events = [
        livescore(match_id, 0, 0, 0, 0),  # kick-off
        livescore(match_id, 1, 25, 1, 0),  # home goal
        livescore(match_id, 2, 45, 1, 0, "halftime"),
        livescore(match_id, 3, 70, 2, 0),  # home goal
        livescore(match_id, 4, 80, 2, 1),  # away goal
        livescore(match_id, 5, 90, 2, 1, "finished"),
    ]
    await produce(worker_settings, worker_settings.livescores_topic, events)
    records = await collect(
        worker_settings,
        worker_settings.predictions_topic,
        lambda rs: len(rs) >= len(events),
        timeout=30,
    )
    home = {r["seq"]: r["probabilities"]["home"] for r in records}
    assert sorted(home) == [0, 1, 2, 3, 4, 5], "one prediction per event"
    assert home[1] > home[0], "a home goal raises P(home)"
    assert home[3] > home[2], "a second home goal raises it again"
    assert home[4] < home[3], "an away goal lowers it"
    assert home[5] > 0.9, "a 2-1 lead at full time is nearly certain"

    # A request during the match is answered for the current state.
    await produce(
        worker_settings, worker_settings.match_requests_topic, [request(match_id, "live-req")]
    )
    records = await collect(
        worker_settings,
        worker_settings.predictions_topic,
        lambda rs: "live-req" in by_request(rs),
        timeout=30,
    )
    answer = by_request(records)["live-req"]
    assert (answer["seq"], answer["status"], answer["home_goals"], answer["away_goals"]) == (
        5,
        "finished",
        2,
        1,
    )


async def test_late_lower_seq_event_does_not_overwrite_redis(
    worker: WorkerProcess, worker_settings: Settings, trained_registry: TrainedRegistry
) -> None:
    match_id = trained_registry.match_ids()[-3]
    await produce(
        worker_settings,
        worker_settings.livescores_topic,
        [livescore(match_id, 7, 80, 2, 0), livescore(match_id, 3, 10, 0, 0)],
    )
    records = await collect(
        worker_settings, worker_settings.predictions_topic, lambda rs: len(rs) >= 2, timeout=30
    )
    assert sorted(r["seq"] for r in records) == [3, 7], "the late event is still answered"
    client = aioredis.from_url(worker_settings.redis_url.get_secret_value())
    try:
        stored = json.loads(await client.get(worker_settings.redis_key(match_id)))
        ttl = await client.ttl(worker_settings.redis_key(match_id))
    finally:
        await client.aclose()
    assert stored["seq"] == 7 and stored["minute"] == 80
    assert 0 < ttl <= worker_settings.prediction_ttl_seconds


async def test_bad_inputs_land_in_the_dlq_with_reasons(
    worker: WorkerProcess, worker_settings: Settings, trained_registry: TrainedRegistry
) -> None:
    known = trained_registry.match_ids()[-4]
    inputs = [
        request(known, "good-1"),
        (known.encode(), b"{not json"),
        request(known, "good-2"),
        (
            known.encode(),
            json.dumps({"request_id": "r", "match_id": known, "neutral": "yes"}).encode(),
        ),
        (known.encode(), b'{"request_id": "\xff\xfe", "match_id": "x"}'),
        request("never-heard-of-it", "unknown"),
        (b"another-key", json.dumps({"request_id": "k", "match_id": known}).encode()),
        (known.encode(), b""),
        request("new-fixture", "good-3", home_team="Atlantis", away_team="Lemuria"),
    ]
    await produce(worker_settings, worker_settings.match_requests_topic, inputs)
    answers = by_request(
        await collect(
            worker_settings,
            worker_settings.predictions_topic,
            lambda rs: {"good-1", "good-2", "good-3"} <= by_request(rs).keys(),
            timeout=30,
        )
    )
    assert {"good-1", "good-2", "good-3"} <= answers.keys()
    letters = await collect(
        worker_settings, worker_settings.predictions_dlq_topic, lambda rs: len(rs) >= 6, timeout=30
    )
    # Offsets are per partition, so identify each dead letter by its original key and bytes.
    expected = {
        inputs[1]: "invalid_json",
        inputs[3]: "schema",
        inputs[4]: "invalid_json",
        inputs[5]: "unknown_match",
        inputs[6]: "schema",
        inputs[7]: "invalid_json",
    }
    got = {
        (letter["key"].encode(), _payload(letter)): letter["error"]["type"] for letter in letters
    }
    assert got == expected
    bad_utf8 = next(letter for letter in letters if _payload(letter) == inputs[4][1])
    assert bad_utf8["payload_encoding"] == "base64"
    assert all(letter["source_topic"] == worker_settings.match_requests_topic for letter in letters)
    assert http_get(f"{worker.base_url}/ready")[0] == 200, "the worker is still up and ready"


async def test_alias_move_mid_stream_loses_nothing(
    worker: WorkerProcess,
    worker_settings: Settings,
    trained_registry: TrainedRegistry,
    tmp_path: Path,
) -> None:
    match_ids = trained_registry.match_ids()[-50:]
    before = registry.resolve_alias("soccer_clf", "champion", trained_registry.tracking_uri)

    async def trickle(start: int, count: int) -> None:
        for i in range(start, start + count):
            await produce(
                worker_settings,
                worker_settings.match_requests_topic,
                [request(match_ids[i % len(match_ids)], f"r{i}")],
            )
            await asyncio.sleep(0.05)

    producing = asyncio.create_task(trickle(0, 150))
    # Train a second version meanwhile, then point the champion alias at it.
    # Its feature tables go elsewhere: serving keeps the snapshot these match ids are in.
    await asyncio.to_thread(trained_registry.train, 1, 1500, tmp_path / "v2-features")
    newest = max(
        int(v.version)
        for v in registry.client(trained_registry.tracking_uri).search_model_versions(
            "name='soccer_clf'"
        )
    )
    registry.set_alias("soccer_clf", "champion", str(newest), trained_registry.tracking_uri)
    await producing
    await trickle(150, 60)  # after the move: the poll interval is 1 s
    records = await collect(
        worker_settings,
        worker_settings.predictions_topic,
        lambda rs: len(by_request(rs)) >= 210,
        timeout=60,
    )
    answers = by_request(records)
    assert set(answers) == {f"r{i}" for i in range(210)}, "every request answered"
    versions = [answers[f"r{i}"]["model"]["version"] for i in range(210)]
    assert versions[0] == before.version and versions[-1] == str(newest)
    first_new = versions.index(str(newest))
    assert all(v == str(newest) for v in versions[first_new:]), "no flip-flop after the swap"

"""The loop closes (issue 24): results on the results topic become training data of a new
challenger, never of the champion, and a running worker shadows that challenger and
promotes it on evidence. Against the real Kafka, an MLflow SQLite registry and
``python -m models retrain`` run as a person runs it.

The champion the retrained version faces is the trained model with its home and away
probabilities swapped (``tests/integration/sabotaged_model.py``, ``mirror``): a clearly
worse forecaster, so that 40 matches are evidence enough.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from devstack.supervisor import free_port
from devstack.worker import REPO, settings_env
from models import registry
from models.ids import match_id
from models.synthetic import generate_matches
from schemas import MatchResult
from streams.faust_glue.topic_admin import ensure_topics
from streams.settings import Settings
from tests.conftest import RunningStack, own_settings, topics_deleted_after
from tests.harness import produce
from tests.integration.conftest import TrainedRegistry
from tests.integration.registry_versions import sabotaged_version
from tests.integration.test_evaluation import (
    NAME,
    launch,
    model_body,
    play,
    real_results,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

#: New matches the topic brings, one of them corrected once.
NEW = 24


@dataclass(frozen=True)
class Retrained:
    """The registry and topics of the loop, and what one ``retrain`` run did."""

    settings: Settings
    uri: str
    champion: str  # the champion before the run
    version: str  # the version the run registered
    stdout: str
    stderr: str


def base_source(uri: str) -> tuple[int, int]:
    """(matches, seed) of the synthetic history the champion template was trained on, as
    its run logged them (``data_source`` = ``synthetic:N:S``)."""
    client = registry.client(uri)
    params = client.get_run(client.get_model_version(NAME, "1").run_id).data.params
    kind, matches, seed = params["data_source"].split(":")
    assert kind == "synthetic", params["data_source"]
    return int(matches), int(seed)


def result_record(row: pd.Series, seq: int, home: int, away: int) -> tuple[bytes, bytes]:
    """The results topic's record of the match in ``row`` ending ``home``-``away``."""
    mid = match_id(row["date"], row["home_team"], row["away_team"])
    finished = dt.datetime.combine(row["date"].date(), dt.time(21), tzinfo=dt.UTC)
    body = MatchResult(
        match_id=mid,
        seq=seq,
        date=row["date"].date(),
        finished_at=finished,
        home_team=row["home_team"],
        away_team=row["away_team"],
        neutral=bool(row["neutral"]),
        tournament=row["tournament"],
        home_goals=int(home),
        away_goals=int(away),
    )
    return mid.encode(), body.model_dump_json().encode()


def topic_records(base: pd.DataFrame) -> tuple[list[tuple[bytes, bytes]], str]:
    """What the stream wrote, by kind, and the id of the one conflicting match:
    - two matches of the base data with its scores, and one with another score;
    - ``NEW`` matches after the base data's last day, between its teams, one of them
      first with a wrong score and then corrected (a higher ``seq``);
    - one record that is not a result at all."""
    records = [
        result_record(base.iloc[i], 9, base.iloc[i]["home_score"], base.iloc[i]["away_score"])
        for i in (0, 1)
    ]
    conflict = base.iloc[2]
    records.append(result_record(conflict, 9, conflict["home_score"] + 1, conflict["away_score"]))
    last = base["date"].max()
    teams = sorted(set(base["home_team"]))
    for i in range(NEW):
        row = pd.Series(
            {
                "date": last + pd.Timedelta(days=1 + i),
                "home_team": teams[i % len(teams)],
                "away_team": teams[(i + 1) % len(teams)],
                "neutral": False,
                "tournament": "Friendly",
            }
        )
        if i == 0:
            records.append(result_record(row, 1, 0, 0))
        records.append(result_record(row, 2, i % 3, (i + 1) % 2))
    records.append((b"junk", b"{not a result"))
    mid = match_id(conflict["date"], conflict["home_team"], conflict["away_team"])
    return records, mid


@pytest.fixture(scope="module")
def retrained(
    stack: RunningStack,
    trained_registry: TrainedRegistry,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Retrained]:
    """A worse champion, the stream's results on the topic, then one ``retrain`` run."""
    root = tmp_path_factory.mktemp("retrain-loop")
    uri = trained_registry.tracking_uri
    own = own_settings(
        stack,
        uuid.uuid4().hex[:10],
        root,
        mlflow_tracking_uri=uri,
        features_dir=trained_registry.features_dir,
        topic_partitions=4,
    )
    with topics_deleted_after(own) as settings:
        champion = sabotaged_version(uri, "1", "mirror", root / "artifacts")
        registry.set_alias(NAME, "champion", champion, uri)
        matches, seed = base_source(uri)
        base = generate_matches(matches, seed).results
        records, _ = topic_records(base)
        asyncio.run(ensure_topics(settings, give_up_after=30))
        asyncio.run(produce(settings, settings.results_topic, records))

        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "models",
                "retrain",
                "--synthetic",
                str(matches),
                "--seed",
                str(seed),
            ],
            cwd=REPO,
            env={**os.environ, **settings_env(settings)},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        found = re.fullmatch(rf"{NAME} version (\d+): challenger .*\n", run.stdout)
        assert found, run.stdout
        yield Retrained(settings, uri, champion, found[1], run.stdout, run.stderr)


def test_retrain_registers_a_challenger_trained_on_the_topics_new_results(
    retrained: Retrained, trained_registry: TrainedRegistry
) -> None:
    uri, version = retrained.uri, retrained.version
    assert registry.alias_version(NAME, "challenger", uri) == version
    assert registry.alias_version(NAME, "champion", uri) == retrained.champion, "champion moved"
    assert int(version) > int(retrained.champion), "not a new version"

    client = registry.client(uri)
    params = client.get_run(client.get_model_version(NAME, version).run_id).data.params
    matches, _ = base_source(uri)
    # Worked out from topic_records: 2 + 1 + NEW + 1 correction + 1 junk records; the
    # distinct matches are the 3 of the base data and the NEW ones.
    expected = {
        "base_matches": matches,
        "matches": matches + NEW,
        "topic_records": NEW + 5,
        "topic_unreadable": 1,
        "topic_superseded": 1,
        "topic_results": NEW + 3,
        "topic_in_base": 2,
        "topic_conflicting": 1,
        "topic_added": NEW,
    }
    assert {k: int(params[k]) for k in expected} == expected
    assert params["results_topic"] == retrained.settings.results_topic
    assert f"+ {NEW} from {retrained.settings.results_topic};" in retrained.stdout

    # The conflict is named, with both scores, and the base data's is the one kept.
    base = generate_matches(*base_source(uri)).results
    _, conflicting = topic_records(base)
    row = base.iloc[2]
    home, away = int(row["home_score"]), int(row["away_score"])
    assert (
        f"conflict: {conflicting}: base data {home}-{away}, topic {home + 1}-{away} "
        "(base data kept)"
    ) in retrained.stderr


async def test_a_worker_shadows_the_retrained_challenger_and_promotes_it_on_evidence(
    retrained: Retrained, trained_registry: TrainedRegistry, tmp_path: Path
) -> None:
    settings = Settings(**retrained.settings.model_dump() | {"web_port": free_port()})
    worker = launch(
        settings,
        tmp_path / "worker.log",
        model_poll_seconds=1.0,
        auto_promote=True,
        promote_min_matches=30,
        promote_check_seconds=1.0,
        shadow_wait_seconds=2.0,
    )
    try:
        challengers = wait_for("the challenger", lambda: model_body(worker)["challengers"])
        assert [c["version"] for c in challengers] == [retrained.version]
        await play(settings, real_results(trained_registry, 40))
        wait_for(
            "the promotion",
            lambda: registry.alias_version(NAME, "champion", retrained.uri) == retrained.version,
            timeout=120,
        )

        def evidence() -> dict[str, str] | None:
            tags = registry.version_tags(NAME, retrained.version, retrained.uri)
            return tags if "promotion.evidence" in tags else None

        tags = wait_for("the promotion's evidence", evidence, timeout=30)
        assert tags["promotion.previous_champion"] == retrained.champion
        shown = json.loads(tags["promotion.evidence"])
        assert shown["n"] >= 30 and shown["low"] > 0, shown
        wait_for(
            "the worker to serve the promoted version",
            lambda: model_body(worker)["version"] == retrained.version,
        )
    finally:
        worker.stop()

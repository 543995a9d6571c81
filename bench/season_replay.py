"""A real season replayed through the running service, scored against its results.

    .venv/bin/python -m bench.season_replay [--data data/international_results]

The champion is fitted on every match before 2023-01-01 (the same fit as
``python -m models evaluate``) and the feature snapshot holds the results up to then.
Then 2023-01-01..2024-12-31 is replayed day by day through one worker: that day's match
requests first (each answered before its result exists), then the day's results as
``finished`` livescores. The request answers are scored (log-loss) against the real
outcomes, once with the stream updating the features and once with STREAM_FEATURE_UPDATES
off, next to the batch evaluation's figure for the same model and split. Prints one table
with both halves of the season and the seconds each replay took, then the service's own
live scores (``GET /model``: it scores every answer against the result it is given) next
to the batch evaluation's. Last, issue 24's anchor: penaltyblog's Dixon-Coles walked forward
over the same matches (``bench.dixon_coles_anchor``, refit every 7 days and, for reference,
every 30), with log-loss and RPS on the whole season and each half beside the service's, and
the service minus the anchor (negative: the service is better). The anchor walks take tens
of minutes and run after the replays, once the stack is free. Needs the ``bench`` extra.
Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.dixon_coles_anchor import DEFAULT_DATA, anchor_proba, walk_forward
from bench.halves import HalfScores, half_table, scores_by_half, season_halves
from devstack.supervisor import free_port
from devstack.topics import delete_topics_named, run_names
from devstack.worker import WorkerProcess, http_get
from models.data import load_results
from models.evaluation import HOLDOUT_FROM, HOLDOUT_TO, evaluate
from models.feature_tables import export_feature_tables
from models.features import compute_features, outcome_labels
from models.ids import match_id
from models.paired import paired_difference
from models.pyfunc_model import log_pyfunc
from models.registry import ensure_experiment, register_version, set_alias, use_registry
from models.training import Scores, build_dataset, fit_model
from schemas import OUTCOMES
from streams.connect.kafka import kafka_options
from streams.faust_glue.topic_admin import ensure_topics
from streams.settings import Settings

#: The anchor's refit periods (days): issue 24's target row, then a reference row.
ANCHOR_REFIT_DAYS = (7, 30)


def say(message: str) -> None:
    print(f"[season] {message}", file=sys.stderr, flush=True)


def prepare(data_dir: Path, root: Path) -> tuple[Settings, pd.DataFrame, Scores]:
    """Register the champion and write the snapshot; the settings, the season's matches
    and the batch evaluation's pre-match scores."""
    data = load_results(data_dir)
    say("fitting the champion on every match before 2023-01-01")
    dataset = build_dataset(data, HOLDOUT_FROM, HOLDOUT_TO)
    model = fit_model(dataset.train_rows)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    use_registry(uri)
    experiment = ensure_experiment("season-replay", uri, root / "artifacts")
    with mlflow.start_run(experiment_id=experiment) as run:
        version = register_version("soccer_clf", log_pyfunc(model).model_uri, run.info.run_id, uri)
    set_alias("soccer_clf", "champion", version, uri)
    before = data.results[data.results["date"] < pd.Timestamp(HOLDOUT_FROM)]
    export_feature_tables(compute_features(before), root / "features")
    season = data.results[
        (data.results["date"] >= pd.Timestamp(HOLDOUT_FROM))
        & (data.results["date"] <= pd.Timestamp(HOLDOUT_TO))
    ].reset_index(drop=True)
    say("batch evaluation of the same model and split (python -m models evaluate)")
    batch = evaluate(data, HOLDOUT_FROM, HOLDOUT_TO).model
    run_id = uuid.uuid4().hex[:8]
    settings = Settings(
        mlflow_tracking_uri=uri,
        features_dir=root / "features",
        state_dir=root / "state",
        **run_names(f"season{run_id}"),
        web_port=free_port(),
    )
    return settings, season, batch


def requests_of(day: pd.DataFrame) -> list[tuple[bytes, bytes]]:
    out = []
    for row in day.itertuples():
        mid = match_id(row.date, row.home_team, row.away_team)
        body = {
            "request_id": f"r{row.Index}",
            "match_id": mid,
            "home_team": row.home_team,
            "away_team": row.away_team,
            "date": row.date.date().isoformat(),
            "neutral": bool(row.neutral),
            "tournament": row.tournament,
        }
        out.append((mid.encode(), json.dumps(body).encode()))
    return out


def results_of(day: pd.DataFrame, clock: dt.datetime) -> list[tuple[bytes, bytes]]:
    out = []
    for i, row in enumerate(day.itertuples()):
        mid = match_id(row.date, row.home_team, row.away_team)
        body = {
            "match_id": mid,
            "seq": 1,
            "ts": (clock + dt.timedelta(seconds=i)).isoformat(),
            "status": "finished",
            "minute": 90,
            "home_goals": int(row.home_score),
            "away_goals": int(row.away_score),
            "home_team": row.home_team,
            "away_team": row.away_team,
            "date": row.date.date().isoformat(),
            "neutral": bool(row.neutral),
            "tournament": row.tournament,
        }
        out.append((mid.encode(), json.dumps(body).encode()))
    return out


def wait_applied(worker: WorkerProcess, count: int) -> None:
    """Block until the worker's features have ``count`` results applied."""
    while True:
        status, body = http_get(f"{worker.base_url}/ratings")
        if status != 200:
            raise RuntimeError(f"/ratings answered {status}")
        if int(json.loads(body)["features_version"].rsplit("+", 1)[1]) >= count:
            return
        time.sleep(0.02)


async def replay(
    settings: Settings, season: pd.DataFrame, root: Path, updates: bool
) -> dict[str, Any]:
    """Replay ``season``; the request answers' probabilities by request id, and seconds."""
    # Topics, group and Redis keys of its own, so the two replays cannot see each other.
    run = f"{settings.consumer_group}-{'on' if updates else 'off'}"
    own = Settings(
        **settings.model_dump()
        | {
            "stream_feature_updates": updates,
            **run_names(run),
        }
    )
    await ensure_topics(own)
    worker = WorkerProcess(own, root / f"worker-{updates}.log").launch()
    producer = AIOKafkaProducer(**kafka_options(own), linger_ms=2)
    answers = AIOKafkaConsumer(
        own.predictions_topic,
        **kafka_options(own),
        auto_offset_reset="earliest",
        group_id=None,
        fetch_max_wait_ms=20,
    )
    got: dict[str, list[float]] = {}
    try:
        worker.wait_ready(timeout=180)
        await producer.start()
        await answers.start()
        started = time.monotonic()
        clock = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
        days = list(season.groupby("date", sort=True))
        sent_ids: set[bytes] = set()
        for n, (_, day) in enumerate(days, 1):
            for key, value in requests_of(day):
                await producer.send(own.match_requests_topic, value, key=key)
            await producer.flush()
            wanted = {f"r{i}" for i in day.index}
            while not wanted <= got.keys():
                batch = await answers.getmany(timeout_ms=200)
                for records in batch.values():
                    for record in records:
                        body = json.loads(record.value)
                        if body.get("request_id"):
                            got[body["request_id"]] = [body["probabilities"][o] for o in OUTCOMES]
            for key, value in results_of(day, clock):
                await producer.send(own.livescores_topic, value, key=key)
                sent_ids.add(key)
            await producer.flush()
            clock += dt.timedelta(hours=1)
            if updates:
                # Every result has reached the features before the next day is asked for
                # (a match id seen twice in the data is one result, the later one).
                await asyncio.to_thread(wait_applied, worker, len(sent_ids))
            if n % 100 == 0:
                say(f"{'updates on' if updates else 'updates off'}: {n}/{len(days)} days")
        seconds = time.monotonic() - started
        # The last day's results reach the score board through the scores topic.
        live = await asyncio.to_thread(live_scores, worker, len(sent_ids))
    finally:
        await answers.stop()
        await producer.stop()
        worker.stop()
        await delete_topics_named(own, own.consumer_group)
    return {"answers": got, "seconds": seconds, "live": live}


def live_scores(worker: WorkerProcess, matches: int, timeout: float = 120.0) -> dict[str, Any]:
    """The champion's pre-match scores on ``GET /model`` once every match is scored."""
    deadline = time.monotonic() + timeout
    while True:
        body = json.loads(http_get(f"{worker.base_url}/model")[1])
        for entry in body["evaluation"]["versions"]:
            pre = [p for p in entry["phases"] if p["phase"] == "pre"]
            if entry["role"] == "champion" and pre and pre[0]["n"] >= matches:
                return dict(pre[0])
        if time.monotonic() > deadline:
            raise RuntimeError(f"the service had not scored {matches} matches in {timeout}s")
        time.sleep(0.5)


def answer_proba(season: pd.DataFrame, answers: dict[str, list[float]]) -> np.ndarray:
    """(N, 3) probabilities each match got before kick-off, in the season's order."""
    return np.array([answers[f"r{i}"] for i in season.index])


def match_losses(season: pd.DataFrame, answers: dict[str, list[float]]) -> np.ndarray:
    """Each match's log-loss of the answer it got before kick-off."""
    labels = outcome_labels(season["home_score"], season["away_score"])
    proba = np.clip(answer_proba(season, answers), 1e-15, 1.0)
    return -np.log(proba[np.arange(len(season)), labels])


def walk_anchors(results: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The Dixon-Coles anchor's per-match rows over the holdout, by row name."""
    anchors = {}
    for days in ANCHOR_REFIT_DAYS:
        say(f"Dixon-Coles anchor, refit every {days} days (minutes: one fit at a time)")
        walked = walk_forward(results, HOLDOUT_FROM, HOLDOUT_TO, refit_days=days, progress=say)
        anchors[f"Dixon-Coles, refit {days} days"] = walked
    return anchors


def anchor_table(
    season: pd.DataFrame,
    service: dict[str, np.ndarray],
    anchors: dict[str, pd.DataFrame],
    first: np.ndarray,
) -> list[str]:
    """The service's answers (in the season's order) and each anchor's rows scored on
    exactly the season's matches (joined by match id), whole and by half, then each
    service row minus each anchor row."""
    labels = outcome_labels(season["home_score"], season["away_score"])
    ids = [match_id(*key) for key in season[["date", "home_team", "away_team"]].itertuples(False)]
    rows: dict[str, HalfScores] = {
        name: scores_by_half(proba, labels, first) for name, proba in service.items()
    }
    for name, walked in anchors.items():
        rows[name] = scores_by_half(anchor_proba(walked, ids), labels, first)
    return half_table(rows, [(name, anchor) for name in service for anchor in anchors])


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="season-") as tmp:
        root = Path(tmp)
        settings, season, batch = prepare(args.data, root)
        say(f"{len(season)} matches on {season['date'].nunique()} days, 2023-01-01..2024-12-31")
        runs = {}
        for updates in (True, False):
            runs[updates] = await replay(settings, season, root, updates)
    middle, first = season_halves(season["date"])
    losses = {updates: match_losses(season, runs[updates]["answers"]) for updates in runs}
    print(f"season replay: {len(season)} matches; halves split at {middle.date()}")
    print(f"batch evaluation (python -m models evaluate): log-loss {batch.log_loss:.4f}")
    print(f"{'replay':<24}{'whole':>9}{'1st half':>10}{'2nd half':>10}{'seconds':>9}")
    for updates, label in ((True, "stream updates on"), (False, "stream updates off")):
        loss = losses[updates]
        print(
            f"{label:<24}{loss.mean():>9.4f}{loss[first].mean():>10.4f}"
            f"{loss[~first].mean():>10.4f}{runs[updates]['seconds']:>9.1f}"
        )
    for name, mask in (("whole", slice(None)), ("1st half", first), ("2nd half", ~first)):
        gain = paired_difference(losses[False][mask], losses[True][mask])
        print(
            f"updates off minus on, {name}: {gain.mean:+.4f} "
            f"(95% paired bootstrap {gain.low:+.4f}..{gain.high:+.4f}, n={gain.n})"
        )
    print("\nthe service's live scores (GET /model, pre-match) next to the batch evaluation")
    print(f"{'scored by':<36}{'n':>6}{'log-loss':>10}{'Brier':>9}{'RPS':>9}")
    print(
        f"{'python -m models evaluate':<36}{batch.n:>6}{batch.log_loss:>10.4f}"
        f"{batch.brier:>9.4f}{batch.rps:>9.4f}"
    )
    for updates, label in ((True, "the service, updates on"), (False, "the service, updates off")):
        live = runs[updates]["live"]
        print(
            f"{label:<36}{live['n']:>6}{live['log_loss']:>10.4f}"
            f"{live['brier']:>9.4f}{live['rps']:>9.4f}"
        )
    service = {
        f"the service, updates {'on' if updates else 'off'}": answer_proba(
            season, runs[updates]["answers"]
        )
        for updates in runs
    }
    anchors = walk_anchors(load_results(args.data).results)
    lines = anchor_table(season, service, anchors, first)
    print("\nthe Dixon-Coles anchor (issue 24) on the same matches: log-loss (LL) and RPS")
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    # The service's log lines (topics created, ...) go to stderr: stdout is the table.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    asyncio.run(main(parser.parse_args()))

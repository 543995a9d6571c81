"""Retraining from the stream: the base data plus every result the stream has applied.

``python -m models retrain`` reads the results topic (:mod:`models.results_topic`), merges
its results into the base data (:func:`merge_results`, pure), fits the model on every match
and registers it as ``challenger``. It never moves ``champion``: the running service
shadows the challenger, scores it live and promotes it on paired evidence
(``AUTO_PROMOTE``, ``streams/evaluation/promoter.py``).

Which result wins. The topic's records go through the worker's own rules first (a newer
``seq`` of a match replaces an older one, an unreadable record counts for nothing:
``streams/live/results_reader.py``). A topic result of a match that is already in the base
data is then dropped, whatever its score: the base data wins, as it does in serving, where
a result already in the feature snapshot is not applied (``in_snapshot``), so the model is
trained on the features the worker serves. A dropped result whose score differs from the
base data's is a conflict: counted, logged as a run parameter and named in the progress.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import mlflow
import pandas as pd
import structlog
from pydantic import BaseModel, Field, ValidationError

from models.data import RESULT_COLUMNS, MatchData
from models.features import LABEL_COLUMN
from models.ids import match_id
from models.promotion import METRIC, TAG_PREFIX
from models.pyfunc_model import log_pyfunc
from models.registry import (
    CHALLENGER,
    ensure_experiment,
    register_version,
    set_alias,
    tag_version,
    use_registry,
)
from models.training import Scores, build_dataset, fit_model, score
from schemas import MatchResult
from schemas.features import MODEL_INPUT_COLUMNS
from streams.newest import keep_newest

log = structlog.get_logger(__name__)

#: Conflicts named one by one in the progress; the rest are counted.
SHOWN_CONFLICTS: Final = 5


class MergeCounts(BaseModel):
    """What became of the results topic's records."""

    records: int = Field(description="Records read from the topic.")
    unreadable: int = Field(description="Records that are not a MatchResult (worker: same).")
    superseded: int = Field(
        description="Records another record of the same match replaced: a correction, a "
        "re-delivery, or the same match under another key."
    )
    results: int = Field(description="Distinct matches the topic holds.")
    in_base: int = Field(description="Of those, in the base data with the same score.")
    conflicting: int = Field(description="In the base data with another score: base kept.")
    added: int = Field(description="Matches the base data lacks: trained on.")


@dataclass(frozen=True)
class Conflict:
    """A topic result of a base-data match whose score differs (the base data wins)."""

    match_id: str
    base: tuple[int, int]
    topic: tuple[int, int]


@dataclass(frozen=True)
class Merged:
    """The base data with the topic's new results, and what the merge did."""

    data: MatchData
    counts: MergeCounts
    conflicts: tuple[Conflict, ...]


def decode_results(values: Iterable[bytes | None]) -> tuple[list[MatchResult], int]:
    """The readable :class:`MatchResult` records of ``values`` in order, and how many were
    not (a tombstone included: the worker's reader counts it as unreadable too)."""
    results, unreadable = [], 0
    for value in values:
        try:
            results.append(MatchResult.model_validate_json(value or b""))
        except ValidationError:
            unreadable += 1
    return results, unreadable


def newest_results(results: Iterable[MatchResult]) -> list[MatchResult]:
    """One result per match, in the order the worker folds them (date, finish, id).

    Per record key (``match_id``) the newest wins, by the worker's rule
    (:func:`streams.newest.keep_newest` on ``seq``). Then per match as :mod:`models.ids`
    names it (date and teams: another producer may key the same match otherwise), the
    one that finished last.
    """
    by_key: dict[str, MatchResult] = {}
    keep_newest(by_key, results, key=lambda r: r.match_id, rank=lambda r: r.seq)
    by_match: dict[str, MatchResult] = {}
    for result in sorted(by_key.values(), key=MatchResult.order):
        by_match[match_id(result.date, result.home_team, result.away_team)] = result
    return sorted(by_match.values(), key=MatchResult.order)


def results_frame(results: Iterable[MatchResult]) -> pd.DataFrame:
    """Results as rows of the ``results.csv`` frame (no city or country: the topic has none)."""
    rows = [
        {
            "date": pd.Timestamp(r.date),
            "home_team": r.home_team,
            "away_team": r.away_team,
            "home_score": r.home_goals,
            "away_score": r.away_goals,
            "tournament": r.tournament,
            "city": "",
            "country": "",
            "neutral": r.neutral,
        }
        for r in results
    ]
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    return frame.astype({"home_score": "int64", "away_score": "int64", "neutral": bool})


def merge_results(base: MatchData, values: Iterable[bytes | None]) -> Merged:
    """``base`` plus the results of the topic records ``values`` that it lacks.

    The topic's matches carry no goal minutes, so they add pre-match rows and move the
    ratings of later matches, but no in-play rows.
    """
    values = list(values)
    decoded, unreadable = decode_results(values)
    results = newest_results(decoded)
    b = base.results
    keys = zip(b["date"], b["home_team"], b["away_team"], strict=True)
    base_ids = [match_id(*key) for key in keys]
    base_scores = {
        mid: (int(home), int(away))
        for mid, home, away in zip(base_ids, b["home_score"], b["away_score"], strict=True)
    }
    added: list[MatchResult] = []
    conflicts: list[Conflict] = []
    for result in results:
        held = base_scores.get(match_id(result.date, result.home_team, result.away_team))
        if held is None:
            added.append(result)
        elif held != (result.home_goals, result.away_goals):
            topic = (result.home_goals, result.away_goals)
            conflicts.append(Conflict(result.match_id, held, topic))
    counts = MergeCounts(
        records=len(values),
        unreadable=unreadable,
        superseded=len(decoded) - len(results),
        results=len(results),
        in_base=len(results) - len(added) - len(conflicts),
        conflicting=len(conflicts),
        added=len(added),
    )
    # Stable: on one date the base data's matches come first, then the topic's in the
    # worker's fold order.
    if not added:
        return Merged(base, counts, tuple(conflicts))
    merged = pd.concat([b, results_frame(added)], ignore_index=True)
    merged = merged.sort_values("date", kind="stable").reset_index(drop=True)
    return Merged(MatchData(merged, base.goals), counts, tuple(conflicts))


def describe(merged: Merged, topic: str) -> list[str]:
    """Progress lines of a merge: the counts, then the first conflicts by name."""
    c = merged.counts
    lines = [
        f"{topic}: {c.records:,} records, {c.results:,} matches: {c.added:,} new, "
        f"{c.in_base:,} already in the base data, {c.conflicting:,} with another score "
        f"there (base data kept); {c.superseded:,} superseded, {c.unreadable:,} unreadable"
    ]
    for conflict in merged.conflicts[:SHOWN_CONFLICTS]:
        lines.append(
            f"conflict: {conflict.match_id}: base data {conflict.base[0]}-{conflict.base[1]}, "
            f"topic {conflict.topic[0]}-{conflict.topic[1]} (base data kept)"
        )
    if len(merged.conflicts) > SHOWN_CONFLICTS:
        lines.append(f"conflict: and {len(merged.conflicts) - SHOWN_CONFLICTS} more")
    return lines


class RetrainResult(BaseModel):
    """What a retraining run produced."""

    name: str
    version: str
    run_id: str
    alias: str = CHALLENGER
    matches: int = Field(description="Matches trained on: the base data's plus the added.")
    counts: MergeCounts
    holdout_from: dt.date
    holdout: Scores = Field(description="A fit on the matches before holdout_from, scored after.")


def _silent(_: str) -> None:
    return None


def retrain_and_register(
    merged: Merged,
    *,
    model_name: str,
    tracking_uri: str,
    artifacts_dir: Path,
    topic: str,
    holdout_from: dt.date | None = None,
    source: str = "",
    progress: Callable[[str], None] = _silent,
) -> RetrainResult:
    """Fit on every match of ``merged``, log the run, register it as ``challenger``.

    The registered model is fitted on all the matches, the newest results included: it is
    judged live, on paired evidence, not on a holdout. For the record, a second fit on the
    matches before ``holdout_from`` is scored on the rest, as ``python -m models train``
    scores its versions (``holdout_log_loss``), so the two can be compared.
    """
    data, counts = merged.data, merged.counts
    dataset = build_dataset(data, holdout_from)
    rows, train, holdout = dataset.rows, dataset.train_rows, dataset.holdout_rows
    progress(
        f"features: {len(dataset.history.teams):,} teams, {len(rows):,} rows; "
        f"holdout from {dataset.holdout_from.date()} ({len(holdout):,} rows)"
    )
    checked = fit_model(train)
    proba = checked.predict_proba(holdout[list(MODEL_INPUT_COLUMNS)])
    labels = holdout[LABEL_COLUMN].to_numpy()
    pre = (holdout["row_kind"] == "pre").to_numpy()
    scores, scores_pre = score(proba, labels), score(proba[pre], labels[pre])
    progress(
        f"holdout: log-loss {scores.log_loss:.4f} (pre-match {scores_pre.log_loss:.4f}) "
        "of a fit before it"
    )
    model = fit_model(rows)
    progress(f"fitted on every match: {len(data.results):,} matches, {len(rows):,} rows")

    use_registry(tracking_uri)
    experiment_id = ensure_experiment(model_name, tracking_uri, artifacts_dir)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.set_tag("soccerpredict.run", "retrain")
        mlflow.log_params(
            {
                "data_source": source or "in-memory",
                "results_topic": topic,
                "base_matches": len(data.results) - counts.added,
                "matches": len(data.results),
                "fit_rows": len(rows),
                "holdout_from": dataset.holdout_from.date().isoformat(),
                "holdout_rows": len(holdout),
                **{f"topic_{name}": value for name, value in counts.model_dump().items()},
            }
        )
        mlflow.log_metrics(
            {
                METRIC: scores.log_loss,
                "holdout_brier": scores.brier,
                "holdout_rps": scores.rps,
                "holdout_accuracy": scores.accuracy,
                "holdout_prematch_log_loss": scores_pre.log_loss,
            }
        )
        info = log_pyfunc(model)
        version = register_version(model_name, info.model_uri, run.info.run_id, tracking_uri)
    set_alias(model_name, CHALLENGER, version, tracking_uri)
    tag_version(
        model_name,
        version,
        {
            f"{TAG_PREFIX}decision": f"{CHALLENGER} (retrain: promoted only on live evidence)",
            f"{TAG_PREFIX}decided_at": dt.datetime.now(dt.UTC).isoformat(),
        },
        tracking_uri,
    )
    progress(f"registered: {model_name} version {version} as {CHALLENGER} (run {run.info.run_id})")
    result = RetrainResult(
        name=model_name,
        version=version,
        run_id=run.info.run_id,
        matches=len(data.results),
        counts=counts,
        holdout_from=dataset.holdout_from.date(),
        holdout=scores,
    )
    log.info("retrained", **result.model_dump(exclude={"holdout"}), log_loss=scores.log_loss)
    return result

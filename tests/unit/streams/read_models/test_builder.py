"""Output records into the read models: timelines, forecasts, results and scores, each a
duplicate-safe write; whatever arrives last scores."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from schemas import MatchScore
from streams.flow.records import RawRecord
from streams.metrics import Metrics
from streams.read_models.builder import ReadModels, ReadModelStore
from streams.read_models.outputs import MatchOutputs
from streams.read_models.results import MatchResults
from tests.factories import answer, match_keyed_table, memory_table, output, prediction, result

NOW = dt.datetime(2024, 6, 14, 21, tzinfo=dt.UTC)
PREDICTIONS, SHADOW, RESULTS = "predictions", "predictions-shadow", "results"


def read_models(metrics: Metrics | None = None) -> ReadModels:
    return ReadModels(
        outputs=MatchOutputs(*match_keyed_table()),
        results=MatchResults(memory_table()),
        metrics=metrics or Metrics(),
        predictions_topic=PREDICTIONS,
        shadow_topic=SHADOW,
        results_topic=RESULTS,
    )


def champion(seq: int, minute: int, p: tuple[float, float, float], **kw: object) -> RawRecord:
    return output(prediction(p, seq=seq, minute=minute, **kw), PREDICTIONS)


def challenger(seq: int, minute: int, p: tuple[float, float, float], **kw: object) -> RawRecord:
    made = prediction(p, version="4", alias="challenger", seq=seq, minute=minute, **kw)
    return output(made, SHADOW)


def scored(scores: list[MatchScore]) -> dict[tuple[str, str], tuple[float, str]]:
    """(version, phase) -> (P(home) of the forecast scored, the outcome)."""
    return {(s.model_version, s.phase): (s.home, s.outcome) for s in scores}


def a_match(models: ReadModels) -> None:
    """Champion v3 before kick-off, twice in 0-29 and once in 60+; challenger v4 in 0-29."""
    pre = output(answer(None, request_id="pre", probabilities=(0.4, 0.35, 0.25)), PREDICTIONS)
    raws = [
        pre,
        champion(1, 5, (0.5, 0.3, 0.2)),
        champion(2, 20, (0.6, 0.3, 0.1)),
        champion(3, 70, (0.7, 0.2, 0.1)),
        challenger(2, 20, (0.3, 0.3, 0.4)),
    ]
    assert models.apply(raws, NOW) == [], "no result yet: nothing to score"


def test_a_champion_prediction_lands_in_the_timeline_once() -> None:
    models = read_models()
    raw = champion(1, 5, (0.5, 0.3, 0.2))
    assert models.apply([raw], NOW) == []
    assert [(p.seq, p.home) for p in models.outputs.timeline("m1")] == [(1, 0.5)]
    assert len(models.changelog()) == 1

    assert models.apply([raw, raw], NOW) == []  # read again after a restart
    assert models.changelog() == [], "a duplicate writes no second changelog record"
    assert models.outputs.timeline_count("m1") == 1


def test_a_shadow_prediction_is_a_forecast_but_not_on_the_timeline() -> None:
    models = read_models()
    models.apply([champion(1, 5, (0.5, 0.3, 0.2)), challenger(1, 5, (0.2, 0.3, 0.5))], NOW)
    assert [p.version for p in models.outputs.timeline("m1")] == ["3"]
    forecasts = models.outputs.forecasts("m1")
    assert forecasts[("4", "0-29")].home == 0.2 and forecasts[("3", "0-29")].home == 0.5


def test_a_result_scores_every_versions_last_forecast_per_phase() -> None:
    models = read_models()
    a_match(models)
    scores = models.apply([output(result(home_goals=0, away_goals=1), RESULTS)], NOW)
    assert scored(scores) == {
        ("3", "pre"): (0.4, "away"),
        ("3", "0-29"): (0.6, "away"),  # the last of the phase, not the first
        ("3", "60+"): (0.7, "away"),
        ("4", "0-29"): (0.3, "away"),
    }
    # Challenger 0-29, (0.3, 0.3, 0.4), away win: -ln 0.4.
    (by_challenger,) = [s for s in scores if s.model_version == "4"]
    assert by_challenger.log_loss == pytest.approx(-math.log(0.4), abs=1e-12)
    assert models.results.get("m1") is not None
    assert models.results.get("m1").read_at == NOW  # type: ignore[union-attr]


def test_a_result_and_its_forecasts_in_one_batch_are_scored() -> None:
    models = read_models()
    scores = models.apply(
        [output(result(home_goals=2, away_goals=2), RESULTS), champion(1, 5, (0.5, 0.3, 0.2))],
        NOW,
    )
    assert scored(scores) == {("3", "0-29"): (0.5, "draw")}


def test_a_forecast_arriving_after_the_result_rescores_only_its_slot() -> None:
    models = read_models()
    a_match(models)
    models.apply([output(result(home_goals=0, away_goals=1), RESULTS)], NOW)
    # The challenger's answer of the last batch, read after the result.
    late = models.apply([challenger(3, 70, (0.1, 0.2, 0.7))], NOW)
    assert scored(late) == {("4", "60+"): (0.1, "away")}
    # An older state of a slot that has a newer forecast: it is not the forecast, no score.
    assert models.apply([champion(1, 10, (0.9, 0.05, 0.05))], NOW) == []


def test_a_correction_rescores_everything_and_a_repeat_or_an_older_result_nothing() -> None:
    models = read_models()
    a_match(models)
    first = result(seq=9, home_goals=0, away_goals=1)
    models.apply([output(first, RESULTS)], NOW)
    assert models.apply([output(first, RESULTS)], NOW) == [], "the same result again"

    corrected = result(seq=10, home_goals=1, away_goals=0)
    scores = models.apply([output(corrected, RESULTS)], NOW)
    assert set(scored(scores)) == {("3", "pre"), ("3", "0-29"), ("3", "60+"), ("4", "0-29")}
    assert {s.outcome for s in scores} == {"home"}
    assert models.results.get("m1").result == corrected  # type: ignore[union-attr]

    assert models.apply([output(first, RESULTS)], NOW) == [], "the older result, late"
    assert models.results.get("m1").result == corrected  # type: ignore[union-attr]


def test_an_unreadable_record_is_counted_and_skipped() -> None:
    metrics = Metrics()
    models = read_models(metrics)
    good = champion(1, 5, (0.5, 0.3, 0.2))
    broken = RawRecord(SHADOW, 0, 3, b"m1", b'{"match_id": "m1"}', 0.0)
    garbage = RawRecord(RESULTS, 0, 4, b"m1", b"\xff", 0.0)
    tombstone = RawRecord(PREDICTIONS, 0, 5, b"m1", None, 0.0)
    assert models.apply([broken, good, garbage, tombstone], NOW) == []

    def rejected(topic: str) -> float | None:
        return metrics.registry.get_sample_value(
            "soccer_read_model_rejected_total", {"topic": topic}
        )

    assert (rejected(SHADOW), rejected(RESULTS), rejected(PREDICTIONS)) == (1.0, 1.0, 1.0)
    assert models.outputs.timeline_count("m1") == 1 and models.results.get("m1") is None
    applied = metrics.registry.get_sample_value(
        "soccer_read_model_records_total", {"read_model": "outputs"}
    )
    assert applied == 1.0


def test_the_janitor_forgets_a_finished_match_after_its_result_and_outputs() -> None:
    models = read_models()
    store = ReadModelStore(models)
    ttl, finished_ttl = dt.timedelta(hours=48), dt.timedelta(minutes=60)
    at = prediction(seq=1).predicted_at
    models.apply(
        [champion(1, 5, (0.5, 0.3, 0.2)), champion(1, 5, (0.5, 0.3, 0.2), match_id="m2")], NOW
    )
    models.apply([output(result(), RESULTS)], at + dt.timedelta(minutes=30))
    models.changelog()

    assert store.match_ids() == ["m1", "m2"] and store.count() == 2
    # m1 finished: 60 minutes after the later of its result and its last output.
    assert not store.is_expired("m1", at + dt.timedelta(minutes=89), ttl, finished_ttl)
    assert store.is_expired("m1", at + dt.timedelta(minutes=91), ttl, finished_ttl)
    # m2 never finished: 48 hours after its last output.
    assert not store.is_expired("m2", at + dt.timedelta(hours=47), ttl, finished_ttl)
    assert store.is_expired("m2", at + dt.timedelta(hours=49), ttl, finished_ttl)

    store.forget("m1")
    assert store.match_ids() == ["m2"] and models.results.get("m1") is None
    tombstones = store.changelog()
    assert [r.value for r in tombstones] == [None, None], "its output and its result"


def test_the_janitor_sees_the_matches_least_recently_written_first_and_which_were_live() -> None:
    models = read_models()
    store = ReadModelStore(models)
    requested = [output(answer(None, request_id=m).model_copy(update={"match_id": m}), PREDICTIONS)
                 for m in ("r1", "r2")]  # fmt: skip
    models.apply([champion(1, 5, (0.5, 0.3, 0.2)), *requested], NOW)
    assert store.match_ids() == ["m1", "r1", "r2"]
    models.apply([champion(2, 6, (0.5, 0.3, 0.2))], NOW)  # a new output of m1
    assert store.match_ids() == ["r1", "r2", "m1"]
    assert store.followed("m1") and not store.followed("r1") and not store.followed("x")
    # A result whose match has no outputs here comes first: it scores nothing.
    models.apply([output(result(match_id="done"), RESULTS)], NOW)
    assert store.match_ids() == ["done", "r1", "r2", "m1"] and store.count() == 4
    assert store.followed("done")


def test_a_request_answer_is_on_the_timeline_and_a_forecast() -> None:
    models = read_models()
    state = prediction(seq=4, minute=40)
    models.apply([output(answer(None), PREDICTIONS)], NOW)
    models.apply([output(state, PREDICTIONS)], NOW)
    assert [p.trigger for p in models.outputs.timeline("m1")] == ["request", "livescore"]
    assert set(models.outputs.forecasts("m1")) == {("3", "pre"), ("3", "30-59")}

"""The score board: totals per version and phase, calibration, the paired comparison."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from models.scoring import forecast_scores
from schemas import OUTCOMES, MatchScore, Phase
from streams.evaluation.board import MIN_PAIRED, ScoreBoard, calibration_rows, score_rows

NOW = dt.datetime(2024, 6, 14, 22, tzinfo=dt.UTC)


def scored(
    match_id: str,
    version: str,
    phase: Phase,
    p: tuple[float, float, float],
    outcome: int,
    goals_rps: float | None = None,
) -> MatchScore:
    each = forecast_scores([p], [outcome])
    return MatchScore(
        match_id=match_id,
        model_version=version,
        phase=phase,
        date=dt.date(2024, 6, 14),
        home=p[0],
        draw=p[1],
        away=p[2],
        outcome=OUTCOMES[outcome],
        log_loss=float(each.log_loss[0]),
        brier=float(each.brier[0]),
        rps=float(each.rps[0]),
        goals_rps=goals_rps,
        scored_at=NOW,
    )


def test_totals_are_sums_per_version_and_phase() -> None:
    board = ScoreBoard()
    a = scored("m1", "1", "pre", (0.5, 0.3, 0.2), 0)
    b = scored("m2", "1", "pre", (0.2, 0.3, 0.5), 0)
    c = scored("m1", "1", "60+", (0.9, 0.05, 0.05), 0)
    for score in (a, b, c):
        board.offer(score)
    pre = board.totals[("1", "pre")]
    assert pre.n == 2
    assert pre.log_loss == pytest.approx(a.log_loss + b.log_loss)
    assert pre.rps == pytest.approx(a.rps + b.rps)
    assert [(r.phase, r.n) for r in score_rows(board)] == [("pre", 2), ("60+", 1)]


def test_a_rescored_match_replaces_its_record_and_a_repeat_changes_nothing() -> None:
    board = ScoreBoard()
    board.offer(scored("m1", "1", "pre", (0.5, 0.3, 0.2), 0))
    revision = board.revision
    board.offer(scored("m1", "1", "pre", (0.5, 0.3, 0.2), 0))
    assert board.revision == revision, "the same record again is a no-op"
    corrected = scored("m1", "1", "pre", (0.5, 0.3, 0.2), 2)  # the result was corrected
    board.offer(corrected)
    totals = board.totals[("1", "pre")]
    assert totals.n == 1 and totals.log_loss == pytest.approx(corrected.log_loss)


def test_calibration_counts_every_outcome_probability_in_its_tenth() -> None:
    board = ScoreBoard()
    board.offer(scored("m1", "1", "pre", (0.55, 0.25, 0.2), 0))
    board.offer(scored("m2", "1", "pre", (0.51, 0.29, 0.2), 1))
    bins = {row.bin: row for row in calibration_rows(board)}
    assert bins[5].forecasts == 2 and bins[5].predicted == pytest.approx(1.06)
    assert bins[5].observed == 1  # home won in m1, not in m2
    assert bins[2].forecasts == 4  # 0.25, 0.2, 0.29, 0.2
    assert bins[2].observed == 1  # m2's draw at 0.29
    assert sum(row.forecasts for row in calibration_rows(board)) == 6


def test_the_comparison_pairs_matches_and_phases_both_scored() -> None:
    board = ScoreBoard()
    rng = np.random.default_rng(3)
    champion, challenger = [], []
    for i in range(40):
        outcome = int(rng.integers(3))
        good = [0.15, 0.15, 0.15]
        good[outcome] = 0.7
        bad = (1 / 3, 1 / 3, 1 / 3)
        board.offer(scored(f"m{i}", "1", "pre", bad, outcome))
        board.offer(scored(f"m{i}", "2", "pre", tuple(good), outcome))
        champion.append(board.records[f"m{i}|1|pre"].log_loss)
        challenger.append(board.records[f"m{i}|2|pre"].log_loss)
    # Scored by the champion only: not part of the comparison.
    board.offer(scored("extra", "1", "pre", (0.9, 0.05, 0.05), 2))
    board.offer(scored("m0", "1", "0-29", (0.9, 0.05, 0.05), 2))

    found = board.compare("1", "2")
    assert found is not None and found.n == 40
    assert found.mean == pytest.approx(np.mean(champion) - np.mean(challenger))
    assert found.mean_a == pytest.approx(np.mean(champion))
    assert found.low > 0, "the challenger is clearly better"


def test_equal_forecasts_give_a_zero_difference_that_promotes_nothing() -> None:
    board = ScoreBoard()
    for i in range(30):
        for version in ("1", "2"):
            board.offer(scored(f"m{i}", version, "pre", (0.5, 0.3, 0.2), i % 3))
    found = board.compare("1", "2")
    assert found is not None and found.mean == 0 and found.low == 0 and found.high == 0


def test_too_few_shared_matches_compare_to_nothing() -> None:
    board = ScoreBoard()
    for i in range(MIN_PAIRED - 1):
        for version in ("1", "2"):
            board.offer(scored(f"m{i}", version, "pre", (0.5, 0.3, 0.2), 0))
    assert board.compare("1", "2") is None


# The four forecasts of tests/unit/models/test_scoring.py, worked by hand there:
# class-wise ECE = (0.2 + 0 + 0.15) / 3.
FOUR = [
    ((0.15, 0.25, 0.60), 0),
    ((0.15, 0.25, 0.60), 2),
    ((0.55, 0.25, 0.20), 0),
    ((0.55, 0.25, 0.20), 1),
]


def test_calibration_and_its_error_are_kept_per_version_and_phase() -> None:
    board = ScoreBoard()
    for i, (p, outcome) in enumerate(FOUR):
        board.offer(scored(f"m{i}", "1", "0-29", p, outcome))
    # The same match in another phase, and another version: kept apart.
    board.offer(scored("m0", "1", "60+", (0.8, 0.15, 0.05), 0))
    board.offer(scored("m0", "2", "0-29", (0.8, 0.15, 0.05), 0))

    assert board.calibration_error("1", "0-29") == pytest.approx(0.35 / 3, abs=1e-12)
    # One forecast, home at 0.8 and it happened: |0.8 - 1| + |0.15 - 0| + |0.05 - 0|, / 3.
    assert board.calibration_error("1", "60+") == pytest.approx(0.4 / 3, abs=1e-12)
    assert board.calibration_error("2", "0-29") == pytest.approx(0.4 / 3, abs=1e-12)
    assert board.calibration_error("1", "pre") is None

    # Pooled over the outcomes: 0-29 has 0.15 x2 (bin 1), 0.25 x4 and 0.20 x2 (bin 2),
    # 0.55 x2 (bin 5), 0.60 x2 (bin 6); 60+ has 0.05 (bin 0), 0.15 (bin 1), 0.8 (bin 8).
    assert {i: b.forecasts for i, b in enumerate(board.bins("1", "0-29")) if b.forecasts} == {
        1: 2,
        2: 6,
        5: 2,
        6: 2,
    }
    every = {i: b.forecasts for i, b in enumerate(board.bins("1")) if b.forecasts}
    assert every == {0: 1, 1: 3, 2: 6, 5: 2, 6: 2, 8: 1}
    rows = {(r.phase, r.bin): r for r in calibration_rows(board) if r.version == "1"}
    assert rows[("0-29", 2)].forecasts == 6 and rows[("0-29", 2)].observed == 1  # m3's draw
    assert rows[("0-29", 2)].predicted == pytest.approx(4 * 0.25 + 2 * 0.2)
    assert rows[("60+", 8)].forecasts == 1 and rows[("60+", 8)].observed == 1
    eces = {(r.version, r.phase): r.ece for r in score_rows(board)}
    assert eces == pytest.approx(
        {("1", "0-29"): 0.35 / 3, ("1", "60+"): 0.4 / 3, ("2", "0-29"): 0.4 / 3}
    )


def test_a_corrected_result_moves_the_calibration_and_a_repeat_does_not() -> None:
    board = ScoreBoard()
    for i, (p, outcome) in enumerate(FOUR):
        board.offer(scored(f"m{i}", "1", "pre", p, outcome))
    board.offer(scored("m0", "1", "pre", *FOUR[0]))  # re-delivered: a no-op
    assert board.calibration_error("1", "pre") == pytest.approx(0.35 / 3, abs=1e-12)
    # m1's result corrected from an away win to a home win. Home: bin 1 now 2 of 2 happened,
    # |0.3 - 2| = 1.7, bin 5 |1.1 - 1| = 0.1: 1.8 / 4 = 0.45. Draw unchanged: 0. Away: bin 6
    # |1.2 - 0| = 1.2, bin 2 |0.4 - 0| = 0.4: 1.6 / 4 = 0.4. ECE (0.45 + 0 + 0.4) / 3.
    board.offer(scored("m1", "1", "pre", (0.15, 0.25, 0.60), 0))
    assert board.calibration_error("1", "pre") == pytest.approx(0.85 / 3, abs=1e-12)
    assert sum(b.forecasts for b in board.bins("1", "pre")) == 4 * 3


def test_goals_rps_is_summed_over_the_forecasts_that_had_expected_goals() -> None:
    board = ScoreBoard()
    board.offer(scored("m1", "1", "pre", (0.5, 0.3, 0.2), 0, goals_rps=0.25))
    board.offer(scored("m2", "1", "pre", (0.5, 0.3, 0.2), 0, goals_rps=0.75))
    board.offer(scored("m3", "1", "pre", (0.5, 0.3, 0.2), 0))  # an older model's: no goals
    totals = board.totals[("1", "pre")]
    assert (totals.n, totals.goals_n) == (3, 2)
    assert totals.goals_rps == pytest.approx(1.0)
    # m2 re-scored after a corrected result: its goals RPS is replaced, not added.
    board.offer(scored("m2", "1", "pre", (0.5, 0.3, 0.2), 2, goals_rps=1.75))
    assert (totals.n, totals.goals_n) == (3, 2) and totals.goals_rps == pytest.approx(2.0)

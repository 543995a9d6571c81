"""Running scores of every model version, rebuilt from the scores topic (pure, no I/O).

Every worker reads the whole scores topic (one record per match, version and phase, keyed
so that a re-scored match replaces its record) and keeps the totals here: the same totals
on every worker, and after a restart. Calibration is kept per version and phase as the
sums of ``models.scoring.calibration_sums``, and its expected calibration error is
``models.scoring.expected_calibration_error``: what ``python -m models evaluate`` prints.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import numpy as np

from models.paired import PairedDifference, paired_difference
from models.scoring import CalibrationSums, calibration_sums, expected_calibration_error
from schemas import OUTCOMES, PHASES, MatchScore, Phase
from streams.metrics import CalibrationRow, ScoreRow

#: The least shared matches worth a paired comparison.
MIN_PAIRED: Final = 2


@dataclass
class Totals:
    """Sums of one version's scores in one phase."""

    n: int = 0
    log_loss: float = 0.0
    brier: float = 0.0
    rps: float = 0.0
    #: Of those, the forecasts with expected goals, and their total-goals RPS summed.
    goals_n: int = 0
    goals_rps: float = 0.0

    def add(self, score: MatchScore, sign: int) -> None:
        self.n += sign
        self.log_loss += sign * score.log_loss
        self.brier += sign * score.brier
        self.rps += sign * score.rps
        if score.goals_rps is not None:
            self.goals_n += sign
            self.goals_rps += sign * score.goals_rps


@dataclass(frozen=True)
class Bin:
    """Outcome probabilities that fell in one calibration bin (the three outcomes pooled,
    as a reliability diagram draws them), and how many of those outcomes happened."""

    forecasts: int
    predicted: float
    observed: float


def _no_forecasts() -> CalibrationSums:
    return calibration_sums(np.empty((0, len(OUTCOMES))), [])


class ScoreBoard:
    """Totals and calibration per (version, phase), per-match losses to pair."""

    def __init__(self) -> None:
        self.records: dict[str, MatchScore] = {}
        self.totals: dict[tuple[str, Phase], Totals] = defaultdict(Totals)
        self.calibration: dict[tuple[str, Phase], CalibrationSums] = defaultdict(_no_forecasts)
        self._losses: dict[str, dict[str, dict[Phase, float]]] = defaultdict(dict)
        #: Grows with every change; comparisons are cached per revision.
        self.revision = 0
        self._compared: dict[tuple[str, str], tuple[int, PairedDifference | None]] = {}

    def offer(self, score: MatchScore) -> None:
        """Take one record of the scores topic; a record for the same key replaces."""
        held = self.records.get(score.key)
        if held == score:
            return
        if held is not None:
            self._count(held, -1)
        self.records[score.key] = score
        self._count(score, +1)
        self.revision += 1

    def _count(self, score: MatchScore, sign: int) -> None:
        slot = (score.model_version, score.phase)
        self.totals[slot].add(score, sign)
        one = calibration_sums(
            [[score.home, score.draw, score.away]], [OUTCOMES.index(score.outcome)]
        )
        for held, change in zip(self.calibration[slot], one, strict=True):
            held += sign * change
        phases = self._losses[score.model_version].setdefault(score.match_id, {})
        if sign > 0:
            phases[score.phase] = score.log_loss
        else:
            phases.pop(score.phase, None)

    def versions(self) -> list[str]:
        return sorted({version for version, _ in self.totals}, key=_version_order)

    def totals_of(self, version: str) -> Iterator[tuple[Phase, Totals]]:
        for phase in PHASES:
            totals = self.totals.get((version, phase))
            if totals is not None and totals.n > 0:
                yield phase, totals

    def calibration_error(self, version: str, phase: Phase) -> float | None:
        """The expected calibration error of the version's scored forecasts in the phase."""
        sums = self.calibration.get((version, phase))
        return None if sums is None else expected_calibration_error(sums)

    def bins(self, version: str, phase: Phase | None = None) -> list[Bin]:
        """The calibration bins of the version in ``phase`` (every phase: None), the three
        outcomes pooled."""
        held = [
            sums
            for (v, p), sums in self.calibration.items()
            if v == version and (phase is None or p == phase)
        ]
        if not held:
            return []
        forecasts, predicted, observed = (
            sum(np.sum(getattr(sums, field), axis=0) for sums in held)
            for field in CalibrationSums._fields
        )
        return [
            Bin(round(float(n)), float(p), float(o))
            for n, p, o in zip(forecasts, predicted, observed, strict=True)
        ]

    def compare(self, champion: str, challenger: str) -> PairedDifference | None:
        """Champion minus challenger per-match log-loss, on the matches both scored (each
        match's mean over the phases both scored): positive means the challenger is better.
        None below :data:`MIN_PAIRED` shared matches."""
        cached = self._compared.get((champion, challenger))
        if cached is not None and cached[0] == self.revision:
            return cached[1]  # the bootstrap is the costly part; the board did not change
        found = self._compare(champion, challenger)
        self._compared[(champion, challenger)] = (self.revision, found)
        return found

    def _compare(self, champion: str, challenger: str) -> PairedDifference | None:
        ours, theirs = self._losses.get(champion, {}), self._losses.get(challenger, {})
        a, b = [], []
        for match_id in ours.keys() & theirs.keys():
            common = ours[match_id].keys() & theirs[match_id].keys()
            if common:
                a.append(np.mean([ours[match_id][p] for p in common]))
                b.append(np.mean([theirs[match_id][p] for p in common]))
        if len(a) < MIN_PAIRED:
            return None
        return paired_difference(a, b)


def _version_order(version: str) -> tuple[int, str]:
    return (int(version), version) if version.isdigit() else (10**9, version)


def score_rows(board: ScoreBoard) -> list[ScoreRow]:
    """The board's sums and calibration errors, for /metrics."""
    return [
        ScoreRow(
            version,
            phase,
            t.n,
            t.log_loss,
            t.brier,
            t.rps,
            board.calibration_error(version, phase),
        )
        for version in board.versions()
        for phase, t in board.totals_of(version)
    ]


def calibration_rows(board: ScoreBoard) -> list[CalibrationRow]:
    return [
        CalibrationRow(version, phase, i, cell.forecasts, cell.predicted, cell.observed)
        for version in board.versions()
        for phase, _ in board.totals_of(version)
        for i, cell in enumerate(board.bins(version, phase))
    ]

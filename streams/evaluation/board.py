"""Running scores of every model version, rebuilt from the scores topic (pure, no I/O).

Every worker reads the whole scores topic (one record per match, version and phase, keyed
so that a re-scored match replaces its record) and keeps the totals here: the same totals
on every worker, and after a restart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import numpy as np

from models.paired import PairedDifference, paired_difference
from schemas import OUTCOMES, PHASES, MatchScore, Phase
from streams.metrics import CalibrationRow, ScoreRow

#: Calibration bins of predicted probability: [0, 0.1), [0.1, 0.2), ... [0.9, 1].
BINS: Final = 10
#: The least shared matches worth a paired comparison.
MIN_PAIRED: Final = 2


@dataclass
class Totals:
    """Sums of one version's scores in one phase."""

    n: int = 0
    log_loss: float = 0.0
    brier: float = 0.0
    rps: float = 0.0

    def add(self, score: MatchScore, sign: int) -> None:
        self.n += sign
        self.log_loss += sign * score.log_loss
        self.brier += sign * score.brier
        self.rps += sign * score.rps


@dataclass
class Bin:
    """Forecast probabilities that fell in one calibration bin, and how often it happened."""

    forecasts: int = 0
    predicted: float = 0.0
    observed: float = 0.0


class ScoreBoard:
    """Totals per (version, phase), calibration per version, per-match losses to pair."""

    def __init__(self) -> None:
        self.records: dict[str, MatchScore] = {}
        self.totals: dict[tuple[str, Phase], Totals] = defaultdict(Totals)
        self.calibration: dict[str, list[Bin]] = {}
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
        self.totals[(score.model_version, score.phase)].add(score, sign)
        bins = self.calibration.setdefault(score.model_version, [Bin() for _ in range(BINS)])
        for outcome, p in zip(OUTCOMES, (score.home, score.draw, score.away), strict=True):
            cell = bins[min(int(p * BINS), BINS - 1)]
            cell.forecasts += sign
            cell.predicted += sign * p
            cell.observed += sign * (outcome == score.outcome)
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
    """The board's sums, for /metrics."""
    return [
        ScoreRow(version, phase, t.n, t.log_loss, t.brier, t.rps)
        for version in board.versions()
        for phase, t in board.totals_of(version)
    ]


def calibration_rows(board: ScoreBoard) -> list[CalibrationRow]:
    return [
        CalibrationRow(version, i, cell.forecasts, cell.predicted, cell.observed)
        for version in board.versions()
        for i, cell in enumerate(board.calibration.get(version, []))
    ]

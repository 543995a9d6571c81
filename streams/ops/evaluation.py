"""The live scores as /model and the status page show them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from streams.evaluation.board import Bin, ScoreBoard
from streams.evaluation.promoter import Promoter
from streams.live.model_server import ModelServer
from streams.metrics import ComparisonRow


class CalibrationBin(BaseModel):
    """Forecasts whose probability fell in ``[low, low + 0.1)`` and how often it happened."""

    low: float
    forecasts: int
    predicted: float | None = Field(description="Mean predicted probability.")
    observed: float | None = Field(description="Observed frequency.")


class PhaseScores(BaseModel):
    """Mean scores of one version in one phase."""

    phase: str
    n: int
    log_loss: float
    brier: float
    rps: float
    ece: float | None = Field(
        description="Expected calibration error, class-wise over ten equal-width bins."
    )
    calibration: list[CalibrationBin] = Field(description="The phase's bins, outcomes pooled.")
    goals_n: int = Field(description="Of the n forecasts, those with expected goals.")
    goals_rps: float | None = Field(
        description="Their mean total-goals RPS (models.scorelines.total_goals_rps, in "
        "goals); None when none had expected goals."
    )


class VersionScores(BaseModel):
    version: str
    role: Literal["champion", "challenger", "earlier"]
    phases: list[PhaseScores]
    calibration: list[CalibrationBin] = Field(description="Every phase's bins together.")


def calibration_bins(bins: list[Bin]) -> list[CalibrationBin]:
    return [
        CalibrationBin(
            low=i / len(bins),
            forecasts=cell.forecasts,
            predicted=cell.predicted / cell.forecasts if cell.forecasts else None,
            observed=cell.observed / cell.forecasts if cell.forecasts else None,
        )
        for i, cell in enumerate(bins)
    ]


class Comparison(BaseModel):
    """Champion against one challenger, on the matches both were scored on."""

    champion: str
    challenger: str
    n: int
    champion_log_loss: float | None
    challenger_log_loss: float | None
    difference: float | None = Field(description="Champion minus challenger: > 0 favours it.")
    low: float | None
    high: float | None
    verdict: str


class EvaluationReport(BaseModel):
    versions: list[VersionScores]
    comparisons: list[Comparison]
    auto_promote: bool
    promote_min_matches: int


def evaluation_report(
    board: ScoreBoard, models: ModelServer, promoter: Promoter
) -> EvaluationReport:
    champion = models.current.ref.version if models.current else None
    challengers = {m.ref.version for m in models.challengers.values()}
    versions = []
    for version in board.versions():
        role: Literal["champion", "challenger", "earlier"] = (
            "champion"
            if version == champion
            else "challenger"
            if version in challengers
            else "earlier"
        )
        versions.append(
            VersionScores(
                version=version,
                role=role,
                phases=[
                    PhaseScores(
                        phase=phase,
                        n=t.n,
                        log_loss=t.log_loss / t.n,
                        brier=t.brier / t.n,
                        rps=t.rps / t.n,
                        ece=board.calibration_error(version, phase),
                        calibration=calibration_bins(board.bins(version, phase)),
                        goals_n=t.goals_n,
                        goals_rps=t.goals_rps / t.goals_n if t.goals_n else None,
                    )
                    for phase, t in board.totals_of(version)
                ],
                calibration=calibration_bins(board.bins(version)),
            )
        )
    return EvaluationReport(
        versions=versions,
        comparisons=comparisons(board, models, promoter),
        auto_promote=promoter.auto,
        promote_min_matches=promoter.min_matches,
    )


def comparisons(board: ScoreBoard, models: ModelServer, promoter: Promoter) -> list[Comparison]:
    if models.current is None:
        return []
    champion = models.current.ref.version
    out = []
    for model in models.challengers.values():
        evidence = board.compare(champion, model.ref.version)
        if evidence is None:
            out.append(
                Comparison(
                    champion=champion,
                    challenger=model.ref.version,
                    n=0,
                    champion_log_loss=None,
                    challenger_log_loss=None,
                    difference=None,
                    low=None,
                    high=None,
                    verdict="not enough shared matches yet",
                )
            )
            continue
        if promoter.beats(evidence):
            verdict = "challenger better: promotes" if promoter.auto else "challenger better"
        elif evidence.low > 0:
            verdict = f"challenger better, on fewer than {promoter.min_matches} matches"
        elif evidence.high < 0:
            verdict = "champion better"
        else:
            verdict = "no clear difference"
        out.append(
            Comparison(
                champion=champion,
                challenger=model.ref.version,
                n=evidence.n,
                champion_log_loss=evidence.mean_a,
                challenger_log_loss=evidence.mean_b,
                difference=evidence.mean,
                low=evidence.low,
                high=evidence.high,
                verdict=verdict,
            )
        )
    return out


def comparison_rows(
    board: ScoreBoard, models: ModelServer, promoter: Promoter
) -> list[ComparisonRow]:
    """The comparisons, for /metrics."""
    return [
        ComparisonRow(c.challenger, c.n, c.difference, c.low, c.high)
        for c in comparisons(board, models, promoter)
        if c.difference is not None and c.low is not None and c.high is not None
    ]

"""The ``train`` and ``evaluate`` commands end to end on small synthetic data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from models.cli import main
from models.evaluation import evaluate, format_report
from models.registry import resolve_alias
from models.synthetic import generate_matches
from schemas import PHASES


def test_train_command_registers_and_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'state' / 'mlflow' / 'mlflow.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MODEL_NAME", "cli_clf")
    features = tmp_path / "features"

    status = main(["train", "--synthetic", "800", "--seed", "2", "--features-dir", str(features)])

    out, err = capsys.readouterr()
    assert status == 0, err
    assert out.startswith("cli_clf version 1: champion") and out.count("\n") == 1
    assert "[models] registered: cli_clf version 1" in err
    assert "Traceback" not in err and "WARNING" not in err
    assert {p.name for p in features.iterdir()} == {
        "teams.parquet",
        "matches.parquet",
        "manifest.json",
    }
    assert not list(tmp_path.glob(".features.*"))  # no leftover staging folder
    assert resolve_alias("cli_clf", "champion", uri).version == "1"
    assert not (tmp_path / "mlruns").exists()


def test_evaluation_beats_the_baselines_and_improves_with_the_clock() -> None:
    data = generate_matches(3000, seed=4)
    report = evaluate(data, dt.date(2006, 1, 1), None)
    assert report.model.log_loss < report.base_rates.log_loss
    assert report.elo_logistic.log_loss < report.base_rates.log_loss
    by_minute = [report.inplay[m].log_loss for m in sorted(report.inplay)]
    assert by_minute == sorted(by_minute, reverse=True)
    assert list(report.by_phase) == list(PHASES)
    by_phase = [report.by_phase[phase]["model"].log_loss for phase in PHASES]
    assert by_phase == sorted(by_phase, reverse=True)
    # The baselines are pre-match predictors: the same forecasts of the same matches, so
    # the same scores, in every phase.
    for name in ("base rates", "Elo-only logistic"):
        first = report.by_phase["pre"][name]
        for phase in PHASES:
            assert report.by_phase[phase][name].log_loss == pytest.approx(first.log_loss)
            assert report.by_phase[phase][name].ece == pytest.approx(first.ece)
    table = format_report(report)
    assert "Elo-only logistic" in table and "\n90 " in table
    assert "\n60+     model" in table and "ECE floor" in table

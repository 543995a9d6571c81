"""The live-quality gauges as /metrics writes them from the board's rows."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from streams.metrics import CalibrationRow, Metrics, ScoreCollector, ScoreRow


def gauges(
    scores: list[ScoreRow], bins: list[CalibrationRow]
) -> dict[str, list[tuple[dict[str, str], float]]]:
    metrics = Metrics()
    metrics.registry.register(ScoreCollector(lambda: scores, lambda: bins, lambda: []))
    return {
        family.name: [(s.labels, s.value) for s in family.samples]
        for family in text_string_to_metric_families(metrics.exposition().decode())
    }


def test_the_calibration_error_is_a_gauge_per_version_and_phase() -> None:
    found = gauges(
        [
            ScoreRow("1", "pre", 4, 3.0, 2.0, 0.8, 0.125),
            ScoreRow("1", "60+", 1, 0.2, 0.1, 0.05, None),  # nothing to say: no sample
        ],
        [CalibrationRow("1", "pre", 2, 6, 1.4, 1.0)],
    )
    assert found["soccer_model_expected_calibration_error"] == [
        ({"version": "1", "phase": "pre"}, 0.125)
    ]
    assert found["soccer_model_calibration_forecasts"] == [
        ({"version": "1", "phase": "pre", "bin": "2"}, 6.0)
    ]
    assert found["soccer_model_calibration_observed_outcomes"] == [
        ({"version": "1", "phase": "pre", "bin": "2"}, 1.0)
    ]

"""The new CLI commands: one ``error:`` line for bad arguments, and the prediction line."""

from __future__ import annotations

import pytest

from streams.cli.main import main
from streams.cli.show import prediction_line


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["replay"], "one of the arguments --data --synthetic is required"),
        (["replay", "--synthetic", "0"], "expected a positive integer"),
        (["replay", "--synthetic", "3", "--speed", "fast"], "expected a positive number"),
        (["replay", "--synthetic", "3", "--speed", "-1"], "expected a positive number"),
        (["replay", "--synthetic", "3", "--since", "yesterday"], "not an ISO date"),
        (["replay", "--data", "x", "--synthetic", "3"], "not allowed with argument"),
        (["request"], "the following arguments are required: --match-id"),
        (["request", "--match-id", "m", "--timeout", "0"], "expected a positive number"),
        (["demo", "--matches", "many"], "expected a positive integer"),
        (["demo", "--duration", "nan"], "expected a positive number"),
    ],
)
def test_bad_arguments_are_one_line(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith("error: ") and says in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["replay", "--data", "/no/such/folder"], "no such file or directory"),
        (["replay", "--synthetic", "50", "--tournament", "No Such Cup"], "no match passes"),
        (["request", "--match-id", "m", "--home", "Germany"], "must be sent together"),
        (["request", "--match-id", "m", "--home", "A", "--away", "A"], "must differ"),
        (["request", "--match-id", ""], "bad request: match_id"),
    ],
)
def test_unusable_input_is_one_line_before_any_kafka_call(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and says in err and err.count("\n") == 1


def test_replay_dry_run_prints_the_events(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--synthetic", "20", "--max-matches", "2", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 6 and all(line.startswith('{"match_id":') for line in lines)


def test_prediction_line_is_compact() -> None:
    record = {
        "match_id": "2024-06-14_germany_scotland",
        "status": "live",
        "minute": 67,
        "home_goals": 2,
        "away_goals": 1,
        "probabilities": {"home": 0.712, "draw": 0.201, "away": 0.087},
        "predicted": "home",
        "model": {"name": "soccer_clf", "version": "3"},
    }
    line = prediction_line(record)
    assert line == (
        "2024-06-14_germany_scotland  67' live       2-1  "
        "H  71.2%  D  20.1%  A   8.7%  -> home  soccer_clf v3"
    )
    assert "pre-match" in prediction_line(record | {"status": "scheduled", "minute": 0})

"""Unit tests of the ``python -m models`` command line: bad input is one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.cli import main
from tests.unit.models.test_data import RESULTS, write


def test_cli_prints_one_error_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, RESULTS.replace(",5,1,", ",x,1,"))
    for argv in (
        ["train", "--data", str(tmp_path / "missing")],
        ["evaluate", "--data", str(tmp_path)],
        ["train", "--synthetic", "0"],
        ["train", "--synthetic", "100", "--holdout-from", "yesterday"],
        ["train"],
        ["fly"],
    ):
        assert main(argv) == 2, argv
        lines = capsys.readouterr().err.splitlines()
        # Progress lines may come first; the error is the last line, and the only one.
        assert lines[-1].startswith("error: "), (argv, lines)
        assert not any(line.startswith(("error", "Traceback")) for line in lines[:-1])

"""Loading match results in the ``international_results`` format.

A data set is two frames, :class:`MatchData` ``.results`` (one row per match) and ``.goals``
(one row per goal), with the columns of ``results.csv`` and ``goalscorers.csv``. The loader
checks every row it needs and raises :class:`DataError` with a one-line message naming the
file, line and value, so the CLI can print it as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from models.ids import match_id
from models.timeline import MAX_MINUTE, Goal

RESULTS_FILE: Final = "results.csv"
GOALS_FILE: Final = "goalscorers.csv"

RESULT_COLUMNS: Final = (
    "date",
    "home_team",
    "away_team",
    "home_score",
    "away_score",
    "tournament",
    "city",
    "country",
    "neutral",
)
GOAL_COLUMNS: Final = (
    "date",
    "home_team",
    "away_team",
    "team",
    "scorer",
    "minute",
    "own_goal",
    "penalty",
)
# Columns a file may lack: they only describe, nothing is computed from them.
_OPTIONAL: Final = {"city": "", "country": "", "scorer": "", "own_goal": False, "penalty": False}
MATCH_KEY: Final = ["date", "home_team", "away_team"]

# How the published files (and pandas) spell a missing minute.
_MISSING: Final = frozenset({"", "NA", "NAN", "N/A", "NULL", "NONE"})
_TRUE: Final = frozenset({"true", "1", "yes", "t"})
_FALSE: Final = frozenset({"false", "0", "no", "f", ""})


class DataError(Exception):
    """Bad input data: missing file, malformed CSV, unparsable values. ``str()`` is one line."""


@dataclass(frozen=True)
class MatchData:
    """Matches (``results``, sorted by date) and their goals (``goals``) as typed frames."""

    results: pd.DataFrame
    goals: pd.DataFrame

    def goals_by_match(self) -> dict[str, list[Goal]]:
        """Each match's goals as :class:`~models.timeline.Goal`, keyed by ``match_id``."""
        out: dict[str, list[Goal]] = {}
        g = self.goals
        sides = np.where(g["team"].to_numpy() == g["home_team"].to_numpy(), "home", "away")
        minutes = g["minute"].to_numpy()
        for date, home, away, side, minute in zip(
            g["date"], g["home_team"], g["away_team"], sides, minutes, strict=True
        ):
            goal = Goal(side=side, minute=None if np.isnan(minute) else int(minute))
            out.setdefault(match_id(date, home, away), []).append(goal)
        return out


def _line(index: int) -> int:
    return int(index) + 2  # 1-based, after the header; files have no multi-line fields


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: not a readable CSV ({reason})") from exc
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns and c not in _OPTIONAL]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    for column, default in _OPTIONAL.items():
        if column in required and column not in frame.columns:
            frame[column] = str(default)
    return frame[list(required)].apply(lambda s: s.str.strip())


def _dates(frame: pd.DataFrame, path: Path) -> pd.Series:
    parsed = pd.to_datetime(frame["date"], format="%Y-%m-%d", errors="coerce")
    bad = parsed.isna()
    if bad.any():
        i = bad.idxmax()
        raise DataError(f"{path} line {_line(i)}: unparsable date {frame.at[i, 'date']!r}")
    return parsed


def _non_negative_ints(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() | (values < 0) | (values != values.round())
    if bad.any():
        i = bad.idxmax()
        raise DataError(f"{path} line {_line(i)}: {column} is not a score: {frame.at[i, column]!r}")
    return values.astype(np.int64)


def _booleans(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    folded = frame[column].str.lower()
    bad = ~folded.isin(_TRUE | _FALSE)
    if bad.any():
        i = bad.idxmax()
        raise DataError(
            f"{path} line {_line(i)}: {column} is not TRUE/FALSE: {frame.at[i, column]!r}"
        )
    return folded.isin(_TRUE)


def _names(frame: pd.DataFrame, columns: tuple[str, ...], path: Path) -> None:
    for column in columns:
        empty = frame[column] == ""
        if empty.any():
            raise DataError(f"{path} line {_line(empty.idxmax())}: empty {column}")


def parse_results(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Type-check a raw ``results.csv`` frame (all strings) into the results format."""
    _names(frame, ("home_team", "away_team", "tournament"), path)
    out = frame.copy()
    out["date"] = _dates(frame, path)
    out["home_score"] = _non_negative_ints(frame, "home_score", path)
    out["away_score"] = _non_negative_ints(frame, "away_score", path)
    out["neutral"] = _booleans(frame, "neutral", path)
    return out.sort_values("date", kind="stable").reset_index(drop=True)


def parse_goals(frame: pd.DataFrame, results: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Type-check a raw ``goalscorers.csv`` frame against the already parsed results."""
    _names(frame, ("home_team", "away_team", "team"), path)
    out = frame.copy()
    out["date"] = _dates(frame, path)
    side = (out["team"] == out["home_team"]) | (out["team"] == out["away_team"])
    if not side.all():
        i = (~side).idxmax()
        raise DataError(
            f"{path} line {_line(i)}: team {frame.at[i, 'team']!r} is neither "
            f"{frame.at[i, 'home_team']!r} nor {frame.at[i, 'away_team']!r}"
        )
    missing = frame["minute"].str.upper().isin(_MISSING)
    minute = pd.to_numeric(frame["minute"].mask(missing), errors="coerce")
    bad = (minute.isna() & ~missing) | (minute < 0)
    if bad.any():
        i = bad.idxmax()
        raise DataError(
            f"{path} line {_line(i)}: minute is not a number: {frame.at[i, 'minute']!r}"
        )
    # Extra time ends at 120; a larger value is a typo we keep inside the contract's clock.
    out["minute"] = minute.clip(upper=MAX_MINUTE).astype(np.float64)
    out["own_goal"] = _booleans(frame, "own_goal", path)
    out["penalty"] = _booleans(frame, "penalty", path)
    known = pd.MultiIndex.from_frame(results[MATCH_KEY])
    found = pd.MultiIndex.from_frame(out[MATCH_KEY]).isin(known)
    if not found.all():
        i = int(np.argmin(found))
        raise DataError(
            f"{path} line {_line(i)}: goal of a match not in {RESULTS_FILE}: "
            f"{frame.at[i, 'date']} {frame.at[i, 'home_team']} v {frame.at[i, 'away_team']}"
        )
    return out.reset_index(drop=True)


def load_results(path: str | Path) -> MatchData:
    """Load ``results.csv`` and ``goalscorers.csv`` from a folder (or from beside ``results.csv``).

    Raises :class:`DataError` for a missing path or file, a malformed CSV, a missing column or
    a value that does not parse.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"{root}: no such file or directory")
    folder = root.parent if root.is_file() else root
    results_path, goals_path = folder / RESULTS_FILE, folder / GOALS_FILE
    results = parse_results(_read_csv(results_path, RESULT_COLUMNS), results_path)
    if results.empty:
        raise DataError(f"{results_path}: no matches")
    goals = parse_goals(_read_csv(goals_path, GOAL_COLUMNS), results, goals_path)
    return MatchData(results=results, goals=goals)


def write_csv(data: MatchData, folder: str | Path) -> None:
    """Write ``data`` as ``results.csv`` and ``goalscorers.csv`` (the loader's input format)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def as_text(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        out["date"] = out["date"].dt.strftime("%Y-%m-%d")
        for column in ("neutral", "own_goal", "penalty"):
            if column in out:
                out[column] = out[column].map({True: "TRUE", False: "FALSE"})
        return out

    as_text(data.results)[list(RESULT_COLUMNS)].to_csv(folder / RESULTS_FILE, index=False)
    goals = as_text(data.goals)[list(GOAL_COLUMNS)]
    goals["minute"] = data.goals["minute"].map(lambda m: "" if np.isnan(m) else str(int(m)))
    goals.to_csv(folder / GOALS_FILE, index=False)

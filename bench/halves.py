"""A season's two halves, the scores of each, and the table that puts predictors side by side.

One split for every bench that reports halves (``bench.season_replay``,
``bench.dixon_coles_anchor``), so the halves they print hold the same matches.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from models.training import Scores, score

#: The parts a season is scored on, in the order the tables print them.
PARTS = ("whole", "1st half", "2nd half")


def season_halves(dates: pd.Series) -> tuple[pd.Timestamp, np.ndarray]:
    """The middle date of a season sorted by date, and the mask of its first half.

    The first half is every match dated before the date of the middle match, so one day's
    matches never straddle the two halves.
    """
    if dates.empty:
        raise ValueError("a season with no matches has no halves")
    middle = dates.iloc[len(dates) // 2]
    return middle, (dates < middle).to_numpy()


class HalfScores(BaseModel):
    """A predictor's scores on the whole season and on each half."""

    model_config = ConfigDict(frozen=True)

    whole: Scores
    first: Scores
    second: Scores

    def parts(self) -> tuple[Scores, Scores, Scores]:
        return self.whole, self.first, self.second


def scores_by_half(proba: np.ndarray, labels: np.ndarray, first: np.ndarray) -> HalfScores:
    """Scores of (N, 3) probabilities against labels, whole and split by ``first``."""
    proba, labels, first = np.asarray(proba), np.asarray(labels), np.asarray(first, dtype=bool)
    return HalfScores(
        whole=score(proba, labels),
        first=score(proba[first], labels[first]),
        second=score(proba[~first], labels[~first]),
    )


def half_table(
    rows: dict[str, HalfScores], differences: list[tuple[str, str]] | None = None
) -> list[str]:
    """Lines of log-loss and RPS per part for each named predictor, then ``a minus b`` for
    each pair in ``differences`` (negative: ``a`` scores better)."""
    width = max(
        [len(name) for name in rows] + [len(f"{a} minus {b}") for a, b in differences or []]
    )
    head = "".join(f"{part + ' LL':>13}{'RPS':>8}" for part in PARTS)
    lines = [f"{'predictor':<{width}}{head}"]
    for name, scores in rows.items():
        cells = "".join(f"{s.log_loss:>13.4f}{s.rps:>8.4f}" for s in scores.parts())
        lines.append(f"{name:<{width}}{cells}")
    for a, b in differences or []:
        pairs = zip(rows[a].parts(), rows[b].parts(), strict=True)
        cells = "".join(
            f"{x.log_loss - y.log_loss:>+13.4f}{x.rps - y.rps:>+8.4f}" for x, y in pairs
        )
        lines.append(f"{a + ' minus ' + b:<{width}}{cells}")
    return lines

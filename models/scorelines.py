"""Scorelines from goal rates: the grid of goals still to come, and what a prediction says
of the final score (pure NumPy/SciPy, vectorised over a batch's rows).

The model gives, for each of N predictions, the expected goals each side will still score
(``to_come``, (N, 2), Poisson means for the rest of the match) and the score so far
(``scored``, (N, 2)). The two sides' goals to come are taken as independent Poisson counts,
each truncated at ``MAX_TO_COME`` and renormalised: the grid the most likely scorelines, over
2.5 and the RPS of total goals come from. The expected final goals are the score plus the
rates themselves, not the grid's mean: they are what the model said, and a scorer that takes
the score back off them gets the model's rates again.

Why ``MAX_TO_COME`` = 10 suffices: the mass a Poisson count has above 10 is 8e-6 at a rate of
2, 3e-4 at 3 and 3e-3 at 4 (``scipy.stats.poisson.sf(10, rate)``), and a side expected to
score 4 more goals is already a mismatch of the kind friendlies against the smallest nations
give. The top scorelines and over 2.5 live in the grid's corner near the current score, which
truncation changes only by that renormalisation (over 2.5 moves by less than 1e-4 at rates
up to 5 a side). The grid's mean would fall short of the rate by 0.002 at 3 and 0.02 at 4,
which is why the expected goals do not come from it. ``docs/benchmarks.md`` says how often
a side scores more than 10 in the real data.

Cost: one (N, 2, G) table of Poisson weights, their (N, G, G) outer product, one grouped
sum for the distribution of the total and a sort of k x k candidate cells per row (the top k
cells of an outer product lie in the top k rows and columns of its factors); no Python loop
over rows, no ``scipy.stats`` frozen distributions. ``docs/benchmarks.md`` ("Scorelines grid
cost (issue 24)") has the timings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Self

import numpy as np
import numpy.typing as npt
from scipy import special

from schemas.prediction import MAX_SCORELINES, GoalForecastRow

#: Goals still to come per side that the grid holds: 0..MAX_TO_COME.
MAX_TO_COME: Final = 10
#: Scorelines a forecast lists by default.
TOP_SCORELINES: Final = 3

_G: Final = MAX_TO_COME + 1
_GOALS: Final = np.arange(_G, dtype=np.float64)
_LOG_FACTORIAL: Final = special.gammaln(_GOALS + 1.0)
# Cell c of a flattened (G, G) grid is (home c // G, away c % G) goals to come.
_CELL_HOME: Final = np.repeat(np.arange(_G), _G)
_CELL_AWAY: Final = np.tile(np.arange(_G), _G)
_CELL_TOTAL: Final = _CELL_HOME + _CELL_AWAY
# The flattened grid's cells grouped by total goals to come (0..2 * MAX_TO_COME), and where
# each group starts, for one ``np.add.reduceat``: a matrix product would do the same sums
# through a multithreaded BLAS, whose threads stall on a busy machine (docs/benchmarks.md).
_BY_TOTAL: Final = np.argsort(_CELL_TOTAL, kind="stable")
_TOTAL_STARTS: Final = np.searchsorted(_CELL_TOTAL[_BY_TOTAL], np.arange(2 * MAX_TO_COME + 1))
# The cells in tie order (fewer total goals first, then more home goals first): the order
# of equally likely scorelines, and of a certain forecast's zero-probability fillers.
_TIE_ORDER: Final = np.lexsort((-_CELL_HOME, _CELL_TOTAL))


@dataclass(frozen=True, slots=True)
class GoalForecasts:
    """What N predictions say about the final score; row i is prediction i.

    ``top_*`` list the ``k`` most likely FINAL scorelines (the score so far plus goals to
    come), most likely first. Equally likely scorelines are ordered by fewer total goals
    first, then more home goals first (1-0 before 0-1), so the order is reproducible.
    """

    expected: np.ndarray  # (N, 2) float: expected final goals, home and away (score + rates)
    over_2_5: np.ndarray  # (N,) float: P(final total goals >= 3)
    top_home: np.ndarray  # (N, k) int: final home goals of the k most likely scorelines
    top_away: np.ndarray  # (N, k) int: final away goals of the same scorelines
    top_p: np.ndarray  # (N, k) float: their probabilities, non-increasing along each row

    def __len__(self) -> int:
        return len(self.expected)

    @classmethod
    def certain(cls, scored: npt.ArrayLike, top: int = TOP_SCORELINES) -> Self:
        """The forecasts of matches whose final score is ``scored`` (N, 2): expected goals
        are the score, over 2.5 is 0 or 1, and the top scoreline is the score with
        probability 1, followed by zero-probability fillers in tie order (as
        :func:`goal_forecasts` gives for rates of zero)."""
        goals = _scored(scored, None)
        _check_top(top)
        cells = _TIE_ORDER[:top]
        top_p = np.zeros((len(goals), top))
        top_p[:, 0] = 1.0
        return cls(
            expected=goals.astype(np.float64),
            over_2_5=(goals.sum(axis=1) >= 3).astype(np.float64),
            top_home=goals[:, :1] + _CELL_HOME[cells],
            top_away=goals[:, 1:] + _CELL_AWAY[cells],
            top_p=top_p,
        )

    def row(self, i: int) -> GoalForecastRow:
        """Prediction ``i``'s goal forecasts as ``Prediction.build`` takes them: plain Python
        numbers, at most ``MAX_SCORELINES`` scorelines, those of probability 0 left out."""
        listed = self.top_home[i, :MAX_SCORELINES], self.top_away[i, :MAX_SCORELINES]
        return _row(
            self.expected[i].tolist(),
            *(a.tolist() for a in listed),
            self.top_p[i, :MAX_SCORELINES].tolist(),
            float(self.over_2_5[i]),
        )

    def rows(self) -> list[GoalForecastRow]:
        """Every :meth:`row`, in order: each array is converted once, so a batch costs less
        per row than calling :meth:`row` for each."""
        columns = (self.top_home, self.top_away, self.top_p)
        home, away, p = (c[:, :MAX_SCORELINES].tolist() for c in columns)
        return [
            _row(*values)
            for values in zip(
                self.expected.tolist(), home, away, p, self.over_2_5.tolist(), strict=True
            )
        ]


def to_come_grid(to_come: npt.ArrayLike) -> np.ndarray:
    """(N, G, G) probabilities of (home goals to come, away goals to come), G =
    ``MAX_TO_COME`` + 1: independent Poisson counts of means ``to_come`` (N, 2), each
    truncated at ``MAX_TO_COME`` and renormalised."""
    return _flat_grid(_marginals(_rates(to_come))).reshape(-1, _G, _G)


def goal_forecasts(
    to_come: npt.ArrayLike, scored: npt.ArrayLike, top: int = TOP_SCORELINES
) -> GoalForecasts:
    """The goal forecasts of N predictions from the expected goals still to come of each
    side (``to_come``, (N, 2), >= 0) and the score so far (``scored``, (N, 2), ints >= 0);
    ``top`` scorelines per row (1..G*G)."""
    rates = _rates(to_come)
    goals = _scored(scored, len(rates))
    _check_top(top)
    marginals = _marginals(rates)
    flat = _flat_grid(marginals)
    rows = np.arange(len(flat))[:, None]
    cells = _top_cells(flat, marginals, top, rows)
    # P(0, 1, 2 goals to come in total), from the few cells that have them: all that over
    # 2.5 needs, as a match needs at most 3 more goals to get there.
    few = np.add.reduceat(flat[:, _BY_TOTAL[: _TOTAL_STARTS[3]]], _TOTAL_STARTS[:3], axis=1)
    needed = 3 - goals.sum(axis=1)
    short = np.cumsum(few, axis=1)[rows[:, 0], np.maximum(needed - 1, 0)]
    return GoalForecasts(
        expected=goals + rates,
        over_2_5=np.where(needed <= 0, 1.0, np.maximum(1.0 - short, 0.0)),
        top_home=goals[:, :1] + _CELL_HOME[cells],
        top_away=goals[:, 1:] + _CELL_AWAY[cells],
        top_p=flat[rows, cells],
    )


def total_goals_rps(
    to_come: npt.ArrayLike, scored: npt.ArrayLike, final_total: npt.ArrayLike
) -> np.ndarray:
    """(N,) ranked probability score of each forecast of the FINAL total goals against the
    total that was (``final_total``, (N,) ints).

    RPS = sum over every whole number k of (F(k) - 1[final_total <= k])^2, where F is the
    forecast's CDF of the final total (the score so far plus the grid's total to come). It
    is not divided by the number of categories minus 1: a goal count has no last category,
    and dividing by the grid's would make the score depend on ``MAX_TO_COME`` and the score
    so far; undivided, it is the discrete continuous ranked probability score, in goals (0
    best; a certain forecast that is n goals off scores n). A final total outside the
    forecast's support (below the score so far after a goal was ruled out, or beyond the
    grid) adds 1 per whole number between them.
    """
    rates = _rates(to_come)
    goals = _scored(scored, len(rates))
    final = np.asarray(final_total)
    if final.shape != (len(rates),) or not np.issubdtype(final.dtype, np.integer):
        raise ValueError(f"final_total must be ({len(rates)},) integers, got {final.shape}")
    cdf = np.minimum(np.cumsum(_total_to_come(_flat_grid(_marginals(rates))), axis=1), 1.0)
    beyond = final - goals.sum(axis=1)  # the total to come that the match actually had
    thresholds = np.arange(cdf.shape[1])
    happened = (beyond[:, None] <= thresholds).astype(np.float64)
    outside = np.maximum(beyond - 1 - thresholds[-1], 0) + np.maximum(-beyond, 0)
    return np.sum((cdf - happened) ** 2, axis=1) + outside


def _row(
    expected: list[float], home: list[int], away: list[int], p: list[float], over: float
) -> GoalForecastRow:
    return GoalForecastRow(
        expected_home=expected[0],
        expected_away=expected[1],
        scorelines=tuple(line for line in zip(home, away, p, strict=True) if line[2] > 0.0),
        over_2_5=over,
    )


def _rates(to_come: npt.ArrayLike) -> np.ndarray:
    rates = np.asarray(to_come, dtype=np.float64)
    if rates.ndim != 2 or rates.shape[1] != 2:
        raise ValueError(f"to_come must be (N, 2), got {rates.shape}")
    if not np.isfinite(rates).all() or (rates < 0).any():
        raise ValueError("to_come must be finite and >= 0")
    return rates


def _scored(scored: npt.ArrayLike, n: int | None) -> np.ndarray:
    goals = np.asarray(scored)
    if goals.ndim != 2 or goals.shape[1] != 2 or (n is not None and len(goals) != n):
        raise ValueError(f"scored must be ({'N' if n is None else n}, 2), got {goals.shape}")
    if not np.issubdtype(goals.dtype, np.integer) or (goals < 0).any():
        raise ValueError("scored must be integers >= 0")
    return goals.astype(np.int64, copy=False)


def _check_top(top: int) -> None:
    if not 1 <= top <= _G * _G:
        raise ValueError(f"top must be 1..{_G * _G}, got {top}")


def _marginals(rates: np.ndarray) -> np.ndarray:
    # log of rate^k / k!, shifted by its row maximum before exp: e^-rate cancels in the
    # renormalisation, and the shift keeps any finite rate from overflowing.
    log_weights = special.xlogy(_GOALS, rates[:, :, None]) - _LOG_FACTORIAL
    weights = np.exp(log_weights - log_weights.max(axis=2, keepdims=True))
    return weights / weights.sum(axis=2, keepdims=True)


def _flat_grid(marginals: np.ndarray) -> np.ndarray:
    # (N, G * G): cell c holds P(home c // G, away c % G goals to come).
    return (marginals[:, 0, :, None] * marginals[:, 1, None, :]).reshape(len(marginals), _G * _G)


def _total_to_come(flat: np.ndarray) -> np.ndarray:
    # (N, 2G - 1): P(total goals to come = t), t = 0..2 * MAX_TO_COME.
    return np.add.reduceat(flat[:, _BY_TOTAL], _TOTAL_STARTS, axis=1)


def _top_cells(flat: np.ndarray, marginals: np.ndarray, top: int, rows: np.ndarray) -> np.ndarray:
    """(N, top) flat cell indices of each row's most likely cells, in the documented order.

    A cell outside the top ``top`` rows of the home marginal (ties: lower index first) has
    ``top`` cells in its column that are at least as likely and have fewer goals, so it
    cannot be among the top ``top``; likewise for columns. That leaves at most top x top
    candidates to sort. Rounding can make two products equal whose factors differ, which
    breaks the argument, so a row where another cell ties with the last one chosen is sorted
    in full (rows of zero rates, whose zero cells all tie, or exactly equal rates).
    """
    width = min(top, _G)
    order = np.argsort(-marginals, axis=2, kind="stable")[:, :, :width]
    candidates = (order[:, 0, :, None] * _G + order[:, 1, None, :]).reshape(-1, width * width)
    p = flat[rows, candidates]
    ranked = np.lexsort((-_CELL_HOME[candidates], _CELL_TOTAL[candidates], -p), axis=1)
    cells = candidates[rows, ranked[:, :top]]
    # Correct wherever no cell outside the chosen ones is as likely as the last chosen one;
    # elsewhere (ties at the boundary, or the rounding above) sort the row in full.
    p_last = flat[rows, cells[:, -1:]]
    tied = np.flatnonzero((flat >= p_last).sum(axis=1) != top)
    if tied.size:
        p_tied = flat[tied]
        home, total = (np.broadcast_to(c, p_tied.shape) for c in (-_CELL_HOME, _CELL_TOTAL))
        full = np.lexsort((home, total, -p_tied), axis=1)
        cells[tied] = full[:, :top]
    return cells

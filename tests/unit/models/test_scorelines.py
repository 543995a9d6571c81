"""The scorelines grid and what it says of the final score, against independent oracles:
values worked by hand, ``scipy.stats.poisson`` and second implementations kept here (a
loop per row, a full sort of every cell)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import poisson

from models.scorelines import (
    MAX_TO_COME,
    GoalForecasts,
    _top_cells,
    goal_forecasts,
    to_come_grid,
    total_goals_rps,
)
from schemas import MAX_SCORELINES, GoalForecastRow, Prediction
from tests.factories import livescore, model_ref

G = MAX_TO_COME + 1
GOALS = np.arange(G)


def oracle_marginal(rate: float) -> np.ndarray:
    """P(k goals to come), k = 0..MAX_TO_COME: scipy's Poisson pmf, renormalised."""
    pmf = poisson.pmf(GOALS, rate)
    return pmf / pmf.sum()


def oracle_final_totals(rates: tuple[float, float], scored: tuple[int, int]) -> dict[int, float]:
    """P(final total = t) by a double loop over the oracle's cells."""
    home, away = oracle_marginal(rates[0]), oracle_marginal(rates[1])
    out: dict[int, float] = {}
    for i in range(G):
        for j in range(G):
            t = sum(scored) + i + j
            out[t] = out.get(t, 0.0) + home[i] * away[j]
    return out


def oracle_rps(rates: tuple[float, float], scored: tuple[int, int], final: int) -> float:
    """Sum over k of (F(k) - 1[final <= k])^2, summed in a plain loop over every k where
    either CDF is neither 0 nor 1 in both."""
    probabilities = oracle_final_totals(rates, scored)
    total, cdf = 0.0, 0.0
    for k in range(min(final, sum(scored)) - 1, max(final, sum(scored) + 2 * MAX_TO_COME) + 2):
        cdf += probabilities.get(k, 0.0)
        total += (min(cdf, 1.0) - (1.0 if final <= k else 0.0)) ** 2
    return total


def documented_order(grid: np.ndarray) -> list[tuple[int, int]]:
    """Every cell of one (G, G) grid, most likely first; ties: fewer total goals, then more
    home goals (the rule ``GoalForecasts`` documents), by Python's sort."""
    cells = [(i, j) for i in range(G) for j in range(G)]
    return sorted(cells, key=lambda c: (-grid[c], c[0] + c[1], -c[0]))


# --- the grid ----------------------------------------------------------------------------


def test_the_grid_is_the_product_of_two_poisson_counts() -> None:
    rates = np.array([[1.0, 1e-12], [1.3, 0.7], [2.9, 0.05], [0.0, 2.0]])
    grid = to_come_grid(rates)
    assert grid.shape == (4, G, G)
    np.testing.assert_allclose(grid.sum(axis=(1, 2)), 1.0, rtol=1e-12)
    # P(home to come = k) at rate 1 is e^-1 / k!, to within the mass beyond 10 (1e-8).
    by_hand = [math.exp(-1) / math.factorial(k) for k in range(G)]
    np.testing.assert_allclose(grid[0].sum(axis=1), by_hand, rtol=1e-7)
    np.testing.assert_allclose(grid[0].sum(axis=1), poisson.pmf(GOALS, 1.0), rtol=1e-7)
    for row, (a, b) in enumerate(rates):
        want = np.outer(oracle_marginal(a), oracle_marginal(b))
        np.testing.assert_allclose(grid[row], want, rtol=1e-12, atol=1e-300)


def test_a_zero_rate_means_no_goal_to_come() -> None:
    grid = to_come_grid([[0.0, 0.0]])[0]
    assert grid[0, 0] == 1.0
    assert grid.sum() == 1.0


def test_huge_rates_stay_finite_and_pile_up_at_the_grid_edge() -> None:
    grid = to_come_grid([[1e6, 3.0]])[0]
    assert np.isfinite(grid).all()
    np.testing.assert_allclose(grid.sum(axis=1)[MAX_TO_COME], 1.0, rtol=1e-4)


@pytest.mark.parametrize(
    "to_come",
    [[[-0.1, 1.0]], [[np.nan, 1.0]], [[np.inf, 1.0]], [1.0, 1.0], [[1.0, 1.0, 1.0]]],
)
def test_bad_rates_are_refused(to_come: object) -> None:
    with pytest.raises(ValueError, match="to_come"):
        to_come_grid(to_come)  # type: ignore[arg-type]  # the point is a wrong shape


# --- the forecasts -----------------------------------------------------------------------


def test_no_goals_to_come_makes_the_current_score_certain() -> None:
    forecasts = goal_forecasts([[0.0, 0.0], [0.0, 0.0]], [[2, 1], [0, 0]], top=4)
    assert forecasts.top_home[:, 0].tolist() == [2, 0]
    assert forecasts.top_away[:, 0].tolist() == [1, 0]
    assert forecasts.top_p[:, 0].tolist() == [1.0, 1.0]
    assert (forecasts.top_p[:, 1:] == 0.0).all()
    assert forecasts.expected.tolist() == [[2.0, 1.0], [0.0, 0.0]]
    assert forecasts.over_2_5.tolist() == [1.0, 0.0]
    # The zero-probability fillers in the tie order: 3-1, 2-2, then 4-1.
    assert forecasts.top_home[0].tolist() == [2, 3, 2, 4]
    assert forecasts.top_away[0].tolist() == [1, 1, 2, 1]


def test_a_certain_forecast_is_what_zero_rates_give() -> None:
    scored = np.array([[0, 0], [1, 1], [4, 2], [0, 3]])
    certain = GoalForecasts.certain(scored, top=5)
    zero = goal_forecasts(np.zeros((4, 2)), scored, top=5)
    assert len(certain) == 4
    for field in ("expected", "over_2_5", "top_home", "top_away", "top_p"):
        np.testing.assert_array_equal(getattr(certain, field), getattr(zero, field), field)
    assert certain.over_2_5.tolist() == [0.0, 0.0, 1.0, 1.0]  # 0-0, 1-1: under; 4-2, 0-3: over


@pytest.mark.parametrize(("a", "b"), [(0.4, 0.3), (1.3, 0.9), (2.1, 1.7), (0.0, 1.2)])
def test_over_2_5_from_nil_nil_is_a_poisson_tail(a: float, b: float) -> None:
    # Two independent Poisson counts sum to Poisson(a + b); the grid's truncation at 10 per
    # side moves this by less than the mass beyond 10, under 1e-4 at these rates.
    forecasts = goal_forecasts([[a, b]], [[0, 0]])
    assert forecasts.over_2_5[0] == pytest.approx(1 - poisson.cdf(2, a + b), abs=1e-4)


def test_over_2_5_counts_the_goals_already_scored() -> None:
    rates = [[0.8, 0.6]] * 4
    forecasts = goal_forecasts(rates, [[0, 0], [1, 0], [1, 1], [2, 1]])
    # Needs 3, 2, 1, 0 more goals of a Poisson(1.4) total.
    want = [1 - poisson.cdf(2, 1.4), 1 - poisson.cdf(1, 1.4), 1 - math.exp(-1.4), 1.0]
    np.testing.assert_allclose(forecasts.over_2_5, want, rtol=1e-8)


def test_expected_goals_are_the_score_plus_the_rates_not_the_grid_mean() -> None:
    rates = np.array([[1.3, 0.7], [0.2, 2.5], [4.0, 0.0]])
    scored = np.array([[0, 0], [2, 1], [1, 3]])
    forecasts = goal_forecasts(rates, scored)
    # Exactly: at rate 4 the truncated grid's mean would be short by 0.02.
    np.testing.assert_array_equal(forecasts.expected, scored + rates)


def test_the_most_likely_scorelines_by_hand() -> None:
    # Rates (1.2, 0.8) at 1-0: P(i, j to come) = e^-2 1.2^i 0.8^j / (i! j!), so 0-0 to come
    # is e^-2 = 0.1353, 1-0 is 1.2 e^-2 = 0.1624 and 0-1 is 0.8 e^-2 = 0.1083, 1-1 is
    # 0.96 e^-2 = 0.1299, 2-0 is 0.72 e^-2 = 0.0974: finals 2-0, 1-0, 2-1.
    forecasts = goal_forecasts([[1.2, 0.8]], [[1, 0]])
    assert list(zip(forecasts.top_home[0], forecasts.top_away[0], strict=True)) == [
        (2, 0),
        (1, 0),
        (2, 1),
    ]
    e2 = math.exp(-2)
    np.testing.assert_allclose(forecasts.top_p[0], [1.2 * e2, e2, 0.96 * e2], rtol=1e-7)


def test_equally_likely_scorelines_fewer_goals_first_then_home_goals() -> None:
    # Rates (1, 1): 0-0, 1-0, 0-1 and 1-1 to come all have probability e^-2.
    forecasts = goal_forecasts([[1.0, 1.0]], [[0, 0]], top=5)
    assert forecasts.top_home[0].tolist()[:4] == [0, 1, 0, 1]
    assert forecasts.top_away[0].tolist()[:4] == [0, 0, 1, 1]
    np.testing.assert_allclose(forecasts.top_p[0, :4], math.exp(-2), rtol=1e-7)
    # Then 2-0 and 0-2 (e^-2 / 2 each): 2-0 first.
    assert (forecasts.top_home[0, 4], forecasts.top_away[0, 4]) == (2, 0)
    # Mirror rates tie 1-0 with 0-1 exactly; the cut at top=2 falls between them.
    mirror = goal_forecasts([[0.6, 0.6]], [[0, 0]], top=2)
    assert (mirror.top_home[0].tolist(), mirror.top_away[0].tolist()) == ([0, 1], [0, 0])


def test_a_tie_made_by_rounding_is_sorted_in_full() -> None:
    # Home 0 goals is one ulp less likely than 1, yet times the away side's 0 both round to
    # the same probability, so 0-0 comes first (fewer goals), though row 0 is not the home
    # side's most likely: the shortcut through the top rows alone would answer 1-0.
    a = 0.4483107781461325
    b, c = np.nextafter(a, 1.0), 0.42275974091074836
    assert a * c == b * c and a < b
    marginals = np.zeros((1, 2, G))
    marginals[0, 0, :3], marginals[0, 1, :3] = [a, b, 0.1], [c, 0.3, 0.2]
    flat = (marginals[:, 0, :, None] * marginals[:, 1, None, :]).reshape(1, G * G)
    assert _top_cells(flat, marginals, 1, np.zeros((1, 1), dtype=np.int64)).tolist() == [[0]]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scored": [[1.0, 0.0]]}, "integers"),
        ({"scored": [[-1, 0]]}, "integers"),
        ({"scored": [[1, 0], [0, 0]]}, "scored must be"),
        ({"top": 0}, "top must be"),
        ({"top": G * G + 1}, "top must be"),
    ],
)
def test_bad_forecast_inputs_are_refused(kwargs: dict[str, object], match: str) -> None:
    call: dict[str, object] = {"to_come": [[1.0, 1.0]], "scored": [[0, 0]], **kwargs}
    with pytest.raises(ValueError, match=match):
        goal_forecasts(**call)  # type: ignore[arg-type]  # the point is a wrong value


def test_an_empty_batch_gives_empty_forecasts() -> None:
    forecasts = goal_forecasts(np.zeros((0, 2)), np.zeros((0, 2), dtype=np.int64))
    assert len(forecasts) == 0 and forecasts.top_p.shape == (0, 3)
    assert (
        total_goals_rps(np.zeros((0, 2)), np.zeros((0, 2), dtype=int), np.zeros(0, int)).size == 0
    )


# Rates from a few values (so that exact ties happen) or anywhere in [0, 6].
RATES = st.one_of(st.sampled_from([0.0, 0.5, 1.0, 2.0]), st.floats(0.0, 6.0))
ROWS = st.lists(
    st.tuples(RATES, RATES, st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=12
)


@settings(max_examples=150, deadline=None)
@given(rows=ROWS, top=st.integers(1, 12))
def test_the_top_scorelines_are_a_full_sort_of_the_grid(
    rows: list[tuple[float, float, int, int]], top: int
) -> None:
    rates = np.array([r[:2] for r in rows], dtype=float)
    scored = np.array([r[2:] for r in rows], dtype=np.int64)
    forecasts = goal_forecasts(rates, scored, top=top)
    grids = to_come_grid(rates)
    for n, grid in enumerate(grids):
        cells = documented_order(grid)[:top]
        assert forecasts.top_home[n].tolist() == [scored[n, 0] + i for i, _ in cells]
        assert forecasts.top_away[n].tolist() == [scored[n, 1] + j for _, j in cells]
        assert forecasts.top_p[n].tolist() == [grid[c] for c in cells]
        # ... and the probabilities are scipy's, whatever the order of near-ties.
        oracle = np.outer(oracle_marginal(rates[n, 0]), oracle_marginal(rates[n, 1])).ravel()
        np.testing.assert_allclose(forecasts.top_p[n], np.sort(oracle)[::-1][:top], atol=1e-12)
        finals = oracle_final_totals((rates[n, 0], rates[n, 1]), (scored[n, 0], scored[n, 1]))
        over = sum(p for t, p in finals.items() if t >= 3)
        assert forecasts.over_2_5[n] == pytest.approx(over, abs=1e-12)


# --- the ranked probability score of total goals -----------------------------------------


def test_rps_of_certain_forecasts_is_the_distance_in_goals() -> None:
    # Rates 0: the forecast CDF steps from 0 to 1 at the score so far, so each whole number
    # between it and the real total adds (0 - 1)^2 or (1 - 0)^2 = 1.
    zeros = np.zeros((5, 2))
    scored = np.array([[1, 1], [1, 1], [1, 1], [0, 0], [3, 1]])
    final = np.array([2, 5, 0, 30, 2])  # 5: two goals more; 0: two ruled out; 30: off grid
    np.testing.assert_array_equal(total_goals_rps(zeros, scored, final), [0, 3, 2, 30, 2])


def test_rps_worked_by_hand_from_a_poisson_series() -> None:
    # Rate ln 2 for one side from 0-0: P(0 to come) = 1/2, P(1) = ln2 / 2, P(2) = ln2^2 / 4,
    # P(3) = ln2^3 / 12, ... (a mass of 1e-10 beyond 10 is renormalised away).
    ln2 = math.log(2)
    steps = [0.5, ln2 / 2, ln2**2 / 4, ln2**3 / 12, ln2**4 / 48, ln2**5 / 240, ln2**6 / 1440]
    cdf = np.cumsum(steps)
    # No goal: every k >= 0 has 1[0 <= k] = 1, so RPS = sum (F(k) - 1)^2, about 0.2747
    # (1/4 + 0.0235 + 0.0011 + ...; the terms after these seven are below 1e-9).
    nil = float(np.sum((cdf - 1) ** 2))
    # One goal: k = 0 has 1[1 <= 0] = 0, so its term is F(0)^2 = 1/4 instead.
    one = 0.25 + float(np.sum((cdf[1:] - 1) ** 2))
    got = total_goals_rps([[ln2, 0.0], [ln2, 0.0]], [[0, 0], [0, 0]], np.array([0, 1]))
    np.testing.assert_allclose(got, [nil, one], rtol=1e-6)


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(RATES, RATES, st.integers(0, 5), st.integers(0, 5), st.integers(-3, 25)),
        min_size=1,
        max_size=8,
    )
)
def test_rps_equals_a_loop_over_every_total(
    rows: list[tuple[float, float, int, int, int]],
) -> None:
    rates = np.array([r[:2] for r in rows], dtype=float)
    scored = np.array([r[2:4] for r in rows], dtype=np.int64)
    # Mostly totals the forecast allows, some below the score (a goal ruled out) or far above.
    final = np.maximum(scored.sum(axis=1) + np.array([r[4] for r in rows]), 0)
    got = total_goals_rps(rates, scored, final)
    want = [
        oracle_rps((r[0], r[1]), (r[2], r[3]), int(f)) for r, f in zip(rows, final, strict=True)
    ]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_rps_prefers_the_forecast_nearer_the_total() -> None:
    near, far = total_goals_rps([[1.5, 1.2], [0.2, 0.1]], [[0, 0], [0, 0]], np.array([3, 3]))
    assert near < far


def test_rps_refuses_a_final_total_of_another_shape_or_type() -> None:
    with pytest.raises(ValueError, match="final_total"):
        total_goals_rps([[1.0, 1.0]], [[0, 0]], np.array([1.0]))
    with pytest.raises(ValueError, match="final_total"):
        total_goals_rps([[1.0, 1.0]], [[0, 0]], np.array([1, 2]))


# --- one row, as a prediction carries it ---------------------------------------------------


def test_a_row_is_plain_numbers_without_zero_probabilities_and_at_most_five() -> None:
    forecasts = goal_forecasts([[1.2, 0.8], [0.0, 0.0]], [[1, 0], [2, 2]], top=8)
    first = forecasts.row(0)
    assert (first.expected_home, first.expected_away) == (2.2, 0.8)
    assert len(first.scorelines) == MAX_SCORELINES
    assert first.scorelines[0] == (2, 0, forecasts.top_p[0, 0])
    assert all(
        type(h) is int and type(a) is int and type(p) is float for h, a, p in first.scorelines
    )
    assert type(first.over_2_5) is float
    # No goals to come: the score alone, not the seven fillers of probability 0.
    assert forecasts.row(1).scorelines == ((2, 2, 1.0),)
    assert forecasts.rows() == [forecasts.row(0), forecasts.row(1)]


def test_a_row_builds_a_prediction_at_its_score() -> None:
    event = livescore(home_goals=1, away_goals=0)
    forecasts = goal_forecasts([[1.2, 0.8]], [[1, 0]])
    prediction = Prediction.for_livescore(
        event, [0.6, 0.25, 0.15], model=model_ref(), features_version="v", goals=forecasts.row(0)
    )
    assert prediction.scorelines is not None and prediction.expected_goals is not None
    assert [(s.home, s.away) for s in prediction.scorelines] == [(2, 0), (1, 0), (2, 1)]
    assert prediction.over_2_5 == forecasts.over_2_5[0]
    assert Prediction.model_validate_json(prediction.model_dump_json()) == prediction
    # The row of another match of the batch, at 0-0, is refused for this 1-0.
    other = goal_forecasts([[1.2, 0.8]], [[0, 0]]).row(0)
    with pytest.raises(ValueError, match="below the score"):
        Prediction.for_livescore(
            event, [0.6, 0.25, 0.15], model=model_ref(), features_version="v", goals=other
        )


def test_a_certain_row_after_the_final_whistle() -> None:
    row = GoalForecasts.certain([[3, 1]]).row(0)
    assert row == GoalForecastRow(3.0, 1.0, ((3, 1, 1.0),), 1.0)

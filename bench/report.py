"""The benchmark table and its targets (issue 21), as pure functions (unit-tested)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One measured line: a drain (rate only) or a steady rate (rate and latency)."""

    name: str
    events: int
    rate: float  # events/s: drained, or offered at a steady rate
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    note: str = ""


@dataclass(frozen=True)
class Target:
    """One target: what it compares, the measured value, and whether it is met."""

    text: str
    measured: str
    met: bool


def _num(value: float, digits: int = 0) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def table(rows: Sequence[Row], ceiling: float | None) -> str:
    """Fixed-width table; ``vs ceiling`` is each drain rate over the bare loop's."""
    head = f"{'run':<36}{'events':>9}{'events/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'vs ceil':>9}  note"
    lines = [head, "-" * len(head)]
    for row in rows:
        drain = math.isnan(row.p50_ms)
        share = "-"
        if drain and ceiling and row.rate > 0:
            share = (
                f"{row.rate / ceiling:.1%}"
                if row.rate < 0.1 * ceiling
                else f"{row.rate / ceiling:.0%}"
            )
        lines.append(
            f"{row.name:<36}{row.events:>9,}{_num(row.rate):>11}"
            f"{_num(row.p50_ms, 1):>9}{_num(row.p99_ms, 1):>9}{share:>9}  {row.note}"
        )
    return "\n".join(line.rstrip() for line in lines)


def _rate(rows: Sequence[Row], name: str) -> float | None:
    found = [r.rate for r in rows if r.name == name and r.rate > 0]
    return found[0] if found else None


def _p99(rows: Sequence[Row], name: str) -> float | None:
    found = [r.p99_ms for r in rows if r.name == name and not math.isnan(r.p99_ms)]
    return found[0] if found else None


def _ratio(text: str, ours: float | None, theirs: float | None, at_least: float) -> Target:
    if not ours or not theirs:
        return Target(text, "not measured", False)
    ratio = ours / theirs
    shown = f"{ratio:.0%}" if at_least < 2 else f"{ratio:.1f}x"
    return Target(text, shown, ratio >= at_least)


def _cost(text: str, ours: float | None, base: float | None, at_most: float) -> Target:
    """A design's cost: the share of ``base``'s rate it loses."""
    if not ours or not base:
        return Target(text, "not measured", False)
    cost = 1.0 - ours / base
    return Target(text, f"{cost:.0%}", cost <= at_most)


def _latency(text: str, p99: float | None, at_most: float) -> Target:
    if p99 is None:
        return Target(text, "not measured", False)
    return Target(text, f"{p99:.1f} ms", p99 <= at_most)


def targets(rows: Sequence[Row], names: dict[str, str]) -> list[Target]:
    """The targets from one run's rows; ``names`` maps a role to its row name. A target
    whose rows were not measured in the run is missed, never met."""
    return [
        _ratio(
            "drain >= 70% of the Faust floor",
            _rate(rows, names["pipeline"]),
            _rate(rows, names["floor"]),
            0.7,
        ),
        _latency("p99 <= 10 ms at 100 events/s", _p99(rows, names["steady_100"]), 10.0),
        _latency("p99 <= 20 ms at 1,000 events/s", _p99(rows, names["steady_1000"]), 20.0),
        _ratio(
            "drain at 300 events a match >= 90% of drain at 60",
            _rate(rows, names["long"]),
            _rate(rows, names["pipeline"]),
            0.9,
        ),
        _cost(
            "one challenger costs <= 30% of the drain",
            _rate(rows, names["shadow"]),
            _rate(rows, names["pipeline"]),
            0.3,
        ),
        _ratio(
            ">= 8x Celery, 1 worker vs prefork x1",
            _rate(rows, names["pipeline"]),
            _rate(rows, names["celery_1"]),
            8.0,
        ),
    ]


def row_line(row: Row) -> str:
    """One row as a progress line."""
    if not math.isnan(row.p50_ms):
        return f"{row.name}: p50 {row.p50_ms:.1f} ms, p99 {row.p99_ms:.1f} ms ({row.events:,})"
    note = f" ({row.note})" if row.note else ""
    return f"{row.name}: {row.rate:,.0f} events/s over {row.events:,} events{note}"


def target_lines(found: Sequence[Target]) -> str:
    """One line per target, each ending in ``met`` or ``MISSED``."""
    return "\n".join(
        f"  {t.text:<52}{t.measured:>14}  {'met' if t.met else 'MISSED'}" for t in found
    )

"""The benchmark table and the targets of issue 6, as pure functions (unit-tested)."""

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
    met: bool | None  # None: not measured in this run


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


def _fastest(rows: Sequence[Row], prefix: str) -> float | None:
    """The best rate among rows named ``prefix...`` (e.g. Celery at several pool sizes)."""
    found = [r.rate for r in rows if r.name.startswith(prefix) and r.rate > 0]
    return max(found) if found else None


def targets(rows: Sequence[Row], names: dict[str, str]) -> list[Target]:
    """Issue 6's four targets from the rows; ``names`` maps role -> row name (for Celery, a
    name prefix: the fastest pool size counts, the comparison least flattering to us)."""
    pipeline = _rate(rows, names["pipeline"])
    ceiling = _rate(rows, names["ceiling"])
    celery = _fastest(rows, names["celery"])
    quix = _rate(rows, names["quix"])
    steady = [r for r in rows if r.name == names["steady_1000"]]
    out = []
    if pipeline and ceiling:
        share = pipeline / ceiling
        out.append(Target(">= 50% of the bare ceiling", f"{share:.0%}", share >= 0.5))
    else:
        out.append(Target(">= 50% of the bare ceiling", "not measured", None))
    if pipeline and celery:
        times = pipeline / celery
        out.append(Target(">= 10x the Celery design", f"{times:.1f}x", times >= 10))
    else:
        out.append(Target(">= 10x the Celery design", "not measured", None))
    if pipeline and quix:
        times = pipeline / quix
        out.append(Target("ahead of Quix Streams", f"{times:.1f}x", times > 1))
    else:
        out.append(Target("ahead of Quix Streams", "not measured", None))
    if steady and not math.isnan(steady[0].p99_ms):
        p99 = steady[0].p99_ms
        out.append(Target("p99 < 100 ms at 1,000 events/s", f"{p99:.1f} ms", p99 < 100))
    else:
        out.append(Target("p99 < 100 ms at 1,000 events/s", "not measured", None))
    return out


def target_lines(found: Sequence[Target]) -> str:
    mark = {True: "met", False: "MISSED", None: "n/a"}
    return "\n".join(f"  {t.text:<34}{t.measured:>14}  {mark[t.met]}" for t in found)

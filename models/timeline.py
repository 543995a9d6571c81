"""A match as the sequence of live-score states it passes through.

Used by training (in-play rows are the states of historical matches) and by the live replay
(the streams side turns each state into a ``livescores`` event), so both see the same states.

Rules, for data that is not always complete:

* Each goal counts for the side in ``Goal.side``: in ``goalscorers.csv`` the ``team`` column
  is the team credited, so an own goal already counts for the other side.
* The final score wins. If a side has more recorded goals than its final score (a data
  error), its extra goals are dropped, those with an unknown minute first, then the latest.
  If it has fewer, the missing goals are added with an unknown minute.
* A side's goals with an unknown minute are spread evenly over 90 minutes (k goals at
  90*i/(k+1), i = 1..k): the replay stays plausible and every intermediate score is a
  score the match really passed through on the way to its final score. Training does not
  learn from such matches (see ``models.states``), so no invented minute reaches the model.
* Kick-off is minute 0 (``live``); goals up to minute 45 (stoppage time is recorded as 45)
  come before half-time (45, ``halftime``); full time is ``finished`` at minute 90, or at the
  last goal's minute if extra time was played, always with the final score.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

Side = Literal["home", "away"]
Status = Literal["scheduled", "live", "halftime", "finished"]

HALF_TIME: Final = 45
FULL_TIME: Final = 90
MAX_MINUTE: Final = 130  # the contract's largest match clock


class Goal(BaseModel):
    """One goal: the side credited and the minute, when known."""

    model_config = ConfigDict(frozen=True)

    side: Side = Field(description="Side the goal counts for (own goals count for the other).")
    minute: int | None = Field(None, ge=0, le=MAX_MINUTE, description="Match minute, if known.")


class TimelineEvent(BaseModel):
    """The match state right after something happened."""

    model_config = ConfigDict(frozen=True)

    minute: int = Field(ge=0, le=MAX_MINUTE)
    status: Status
    home_goals: int = Field(ge=0)
    away_goals: int = Field(ge=0)


def _side_minutes(goals: list[Goal], final: int) -> list[int]:
    known = sorted(g.minute for g in goals if g.minute is not None)
    if len(known) >= final:
        return known[:final]
    n_unknown = final - len(known)
    spread = [round(FULL_TIME * (i + 1) / (n_unknown + 1)) for i in range(n_unknown)]
    return sorted(known + spread)


def match_timeline(home_score: int, away_score: int, goals: Iterable[Goal]) -> list[TimelineEvent]:
    """The states of a match with final score ``home_score``-``away_score``, in order.

    Kick-off, each goal in minute order, half-time, full time (see the module docstring for
    how goals with unknown minutes and inconsistent goal lists are handled). Pure: the same
    input always gives the same list.
    """
    if home_score < 0 or away_score < 0:
        raise ValueError("scores must be >= 0")
    goals = list(goals)
    home = _side_minutes([g for g in goals if g.side == "home"], home_score)
    away = _side_minutes([g for g in goals if g.side == "away"], away_score)
    # Home before away within a minute: the data cannot order them and any fixed rule keeps
    # the function deterministic.
    ordered = sorted([(m, 0) for m in home] + [(m, 1) for m in away])

    events = [TimelineEvent(minute=0, status="live", home_goals=0, away_goals=0)]
    h = a = 0
    half_time_done = False
    for minute, side in ordered:
        if not half_time_done and minute > HALF_TIME:
            events.append(
                TimelineEvent(minute=HALF_TIME, status="halftime", home_goals=h, away_goals=a)
            )
            half_time_done = True
        if side == 0:
            h += 1
        else:
            a += 1
        events.append(TimelineEvent(minute=minute, status="live", home_goals=h, away_goals=a))
    if not half_time_done:
        events.append(
            TimelineEvent(minute=HALF_TIME, status="halftime", home_goals=h, away_goals=a)
        )
    end = max(FULL_TIME, ordered[-1][0] if ordered else 0)
    events.append(TimelineEvent(minute=end, status="finished", home_goals=h, away_goals=a))
    return events


def score_at(timeline: list[TimelineEvent], minute: int) -> tuple[int, int]:
    """The score after every event up to and including ``minute``."""
    h = a = 0
    for event in timeline:
        if event.minute > minute:
            break
        h, a = event.home_goals, event.away_goals
    return h, a

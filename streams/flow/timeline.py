"""The champion's predictions of a match over time, kept in its memory for the match pages
(pure).

Appended where the batch writes its forecasts (:meth:`BatchProcessor._write_memories`), so
the timeline is in the same changelog record as the rest of the match's memory and
survives restarts and rebalances with it. It is bounded: every batch rewrites the whole
memory, so an unbounded list would make a match that gets many requests ever dearer to
write. The pre-match prediction is kept apart from the bound, so it is never dropped.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from schemas import Livescore, MatchMemory, MatchTeams, Prediction, TimelinePoint
from streams.flow.enrich import Job
from streams.newest import seq_rank

#: Points kept per match: a match is ~20-40 livescore events; the rest is room for
#: requests. Past it the oldest points go (the pre-match prediction is kept apart).
TIMELINE_POINTS = 300


def point_of(
    prediction: Prediction, states: Iterable[Livescore], before: TimelinePoint | None = None
) -> TimelinePoint:
    """The timeline point of ``prediction``. Predictions carry no red cards: they come from
    the state of its ``seq`` (the batch's livescores, or the stored state a request was
    answered for), else from the point before it."""
    state = next((s for s in states if s.seq == prediction.seq), None)
    cards = state or before
    p = prediction.probabilities
    return TimelinePoint(
        at=prediction.predicted_at,
        trigger=prediction.trigger,
        seq=prediction.seq,
        status=prediction.status,
        minute=prediction.minute,
        home_goals=prediction.home_goals,
        away_goals=prediction.away_goals,
        home_red_cards=cards.home_red_cards if cards else 0,
        away_red_cards=cards.away_red_cards if cards else 0,
        home=p.home,
        draw=p.draw,
        away=p.away,
        version=prediction.model.version,
    )


def _rank(point: TimelinePoint) -> int:
    return seq_rank(point.seq)


def remember_point(
    memory: MatchMemory,
    prediction: Prediction,
    states: Iterable[Livescore],
    limit: int = TIMELINE_POINTS,
) -> None:
    """Add ``prediction`` to the match's timeline, in ``seq`` order.

    Ordered as Redis decides the newest (``streams.newest``): by seq, -1 before kick-off,
    and a tie goes after what is there, so the last point is the prediction Redis holds. A
    late, older event lands where it belongs rather than at the end.
    """
    timeline = memory.timeline
    at = bisect.bisect_right(timeline, seq_rank(prediction.seq), key=_rank)
    point = point_of(prediction, states, timeline[at - 1] if at else None)
    if point.status == "scheduled":
        memory.pre_match = point
    timeline.insert(at, point)
    if len(timeline) > limit:
        del timeline[: len(timeline) - limit]


def remember_teams(memory: MatchMemory, job: Job | None) -> None:
    """Who plays, from the job the batch resolved for the match (None: keep what is known)."""
    if job is None or job.fixture is None:
        return
    memory.teams = MatchTeams(
        home_team=job.fixture.home_team,
        away_team=job.fixture.away_team,
        tournament=job.fixture.tournament,
        date=job.date,
    )

"""Team features that learn from the stream: the feature snapshot plus the results since.

Every worker holds one :class:`TeamRatings`. It keeps the newest result of each match it
has read from the results topic and folds them, in one fixed order (date, then when the
match finished, then id), onto the snapshot's team states with
:func:`models.features.apply_result`, the function training uses. So the ratings are a
function of the *set* of results, not of the order the workers happened to read them in:
every worker that has read the same records holds the same ratings, to the last bit.

A result that sorts after everything its two teams already have is applied on top (the
usual case); one that does not (it arrived late, or corrects an earlier score) makes the
fold start again from the snapshot. A new snapshot (a retrain) starts it again too, with
the results it already contains left out.

Lookups are point in time: :meth:`TeamRatings.team_at` gives a team's features as of
before a date, from the result history kept per team, so a match is predicted with the
results of earlier days only, as in training.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import deque
from dataclasses import dataclass, field
from typing import Final, Literal

from models.features import Result, TeamState, apply_result
from schemas import MatchResult
from schemas.features import NEW_TEAM
from streams.live.feature_snapshot import FeatureSnapshot, Fixture
from streams.newest import outranks

#: Results shown on the status page.
RECENT_APPLIED: Final = 10

Offer = Literal["applied", "corrected", "pending", "duplicate", "stale", "in_snapshot", "no_state"]
Features = tuple[float, ...]


@dataclass(frozen=True, slots=True)
class AppliedResult:
    """One result the fold applied, and what it did to the two ratings."""

    result: MatchResult
    home_elo: tuple[float, float]  # before, after
    away_elo: tuple[float, float]


@dataclass(slots=True)
class _History:
    """A team's features after each of its results, in fold order."""

    dates: list[dt.date] = field(default_factory=list)
    features: list[Features] = field(default_factory=list)
    last: tuple[dt.date, dt.datetime, str] | None = None


class TeamRatings:
    """The serving view of team features: a snapshot and the results applied on top."""

    def __init__(self) -> None:
        self.snapshot: FeatureSnapshot | None = None
        #: The newest result of each match read from the topic (not in the snapshot).
        self.results: dict[str, MatchResult] = {}
        self.applied = 0
        self.newest: MatchResult | None = None
        self.recent: deque[AppliedResult] = deque(maxlen=RECENT_APPLIED)
        #: What each applied result did to both ratings, by match id: the read model the
        #: match pages show after full time, rebuilt with every refold.
        self.changes: dict[str, AppliedResult] = {}
        self._states: dict[str, TeamState] = {}
        self._history: dict[str, _History] = {}

    # -- reading ------------------------------------------------------------
    @property
    def version(self) -> str:
        """``<snapshot>+<results applied>``: the exact ratings a prediction used."""
        base = self.snapshot.version if self.snapshot else "none"
        return f"{base}+{self.applied}"

    @property
    def fixtures(self) -> dict[str, Fixture]:
        return self.snapshot.fixtures if self.snapshot else {}

    def team_at(self, name: str, before: dt.date) -> tuple[Features, bool]:
        """A team's features from the results of days before ``before``, and whether the
        team is known at all (an unknown team gets new-team defaults)."""
        history = self._history.get(name)
        if history is not None:
            i = bisect.bisect_left(history.dates, before)
            if i:
                return history.features[i - 1], True
        if self.snapshot is None:
            return NEW_TEAM, False
        found = self.snapshot.teams.get(name)
        return (found, True) if found is not None else (NEW_TEAM, history is not None)

    def elo_change(self, match_id: str) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """Both teams' Elo before and after a result the stream applied, or None (no such
        result read yet, or it is in the snapshot, where there is no before).

        Taken from the fold itself, as the result was applied: so it is the ratings' own
        update even when a team played twice on one date."""
        applied = self.changes.get(match_id)
        return None if applied is None else (applied.home_elo, applied.away_elo)

    def current(self) -> dict[str, Features]:
        """Every known team's features after every applied result."""
        teams = dict(self.snapshot.teams) if self.snapshot else {}
        teams.update({name: h.features[-1] for name, h in self._history.items()})
        return teams

    # -- writing ------------------------------------------------------------
    def offer(self, result: MatchResult) -> Offer:
        """Take one record of the results topic; what became of it."""
        held = self.results.get(result.match_id)
        if held is not None:
            if result == held:
                return "duplicate"
            if not outranks(result.seq, held.seq):
                return "stale"
        if self.snapshot is not None and result.match_id in self.snapshot.scores:
            return "in_snapshot"
        self.results[result.match_id] = result
        if self.snapshot is None:
            return "pending"
        if self.snapshot.states is None:
            return "no_state"
        key = result.order()
        behind = [h.last for h in map(self._history.get, (result.home_team, result.away_team)) if h]
        if held is None and all(last is not None and last < key for last in behind):
            self._apply(result)
            return "applied"
        self._refold(remember=result.match_id)
        return "applied" if held is None else "corrected"

    def rebase(self, snapshot: FeatureSnapshot) -> None:
        """Start again from a new snapshot; results it already contains are dropped."""
        self.snapshot = snapshot
        for match_id in [m for m in self.results if m in snapshot.scores]:
            del self.results[match_id]
        self._refold()

    def _refold(self, remember: str | None = None) -> None:
        snapshot = self.snapshot
        assert snapshot is not None  # offer and rebase only fold with a snapshot
        self._history = {}
        self.changes = {}
        self.applied = 0
        self.newest = None
        if snapshot.states is None:
            self._states = {}
            return
        self._states = {name: state.copy() for name, state in snapshot.states.items()}
        for result in sorted(self.results.values(), key=MatchResult.order):
            self._apply(result, remember=result.match_id == remember)

    def _apply(self, result: MatchResult, remember: bool = True) -> None:
        before = [self._states.get(t) for t in (result.home_team, result.away_team)]
        elo_before = [state.elo if state else NEW_TEAM[0] for state in before]
        apply_result(
            self._states,
            Result(
                result.home_team,
                result.away_team,
                result.home_goals,
                result.away_goals,
                result.neutral,
                result.tournament,
            ),
        )
        key = result.order()
        for team in (result.home_team, result.away_team):
            history = self._history.get(team)
            if history is None:
                history = self._history[team] = _History()
            history.dates.append(result.date)
            history.features.append(self._states[team].features())
            history.last = key
        self.applied += 1
        if self.newest is None or key > self.newest.order():
            self.newest = result
        home, away = self._states[result.home_team], self._states[result.away_team]
        applied = AppliedResult(result, (elo_before[0], home.elo), (elo_before[1], away.elo))
        self.changes[result.match_id] = applied
        if remember:
            self.recent.append(applied)

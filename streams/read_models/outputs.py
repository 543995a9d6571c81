"""Every published prediction of each match, one record each: the timelines and forecasts.

A read model of ``predictions`` (the champion) and ``predictions-shadow`` (the challengers),
kept in the changelog-backed table ``match_to_outputs``. Each prediction is one record,
keyed by what identifies it, ``(match_id, seq, trigger, request_id, model version, role,
phase)``. So a duplicate (at-least-once re-delivery) lands on its own key again and
counts once, and a write is one small record whatever the length of the match: nothing is
rewritten. Two views are read off the keys:

- **The timeline** behind a match page: the champion's predictions, ordered as Redis
  decides the newest (``streams.newest``): by ``seq``, -1 before kick-off, a tie after what
  was written first, so the last point is the prediction Redis holds, and a late, older
  prediction lands where it belongs. The pre-match point is the last one before kick-off.
- **The forecasts** live scoring needs (``streams.read_models.scoring``): for each model
  version and phase, its last prediction in that order (the one of the newest state).

Bounded per match: at most :data:`TIMELINE_POINTS` champion predictions, and as many per
challenger version; past it the oldest go, except each version's last one in each phase
(the forecasts, the pre-match point among them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal

from schemas import Forecast, Phase, Prediction, TimelinePoint, phase_of
from streams.faust_glue.decoded import DecodedTable
from streams.faust_glue.match_keyed import MatchKey, MatchKeyed
from streams.faust_glue.table_writer import TableWriter
from streams.newest import seq_rank
from streams.table_names import OUTPUTS_TABLE

#: Champion predictions kept per match: a match is ~20-40 livescore events; the rest is
#: room for requests. Each challenger version has the same bound of its own.
TIMELINE_POINTS = 300

Role = Literal["champion", "challenger"]
#: One model version's forecast in one phase.
Slot = tuple[str, Phase]

# Positions in a key.
_MATCH, _SEQ, _TRIGGER, _REQUEST, _VERSION, _ROLE, _PHASE = range(7)


def output_key(prediction: Prediction, role: Role) -> MatchKey:
    """What identifies one published prediction."""
    return (
        prediction.match_id,
        prediction.seq,
        prediction.trigger,
        prediction.request_id,
        prediction.model.version,
        role,
        phase_of(prediction.status, prediction.minute),
    )


def point_of(prediction: Prediction) -> TimelinePoint:
    """The stored point of ``prediction``."""
    p = prediction.probabilities
    return TimelinePoint(
        at=prediction.predicted_at,
        trigger=prediction.trigger,
        seq=prediction.seq,
        request_id=prediction.request_id,
        status=prediction.status,
        minute=prediction.minute,
        home_goals=prediction.home_goals,
        away_goals=prediction.away_goals,
        home_red_cards=prediction.home_red_cards,
        away_red_cards=prediction.away_red_cards,
        home=p.home,
        draw=p.draw,
        away=p.away,
        version=prediction.model.version,
        expected_goals=prediction.expected_goals,
    )


def forecast_of(point: TimelinePoint) -> Forecast:
    return Forecast(
        home=point.home,
        draw=point.draw,
        away=point.away,
        minute=point.minute,
        seq=point.seq,
        at=point.at,
        home_goals=point.home_goals,
        away_goals=point.away_goals,
        expected_goals=point.expected_goals,
    )


def rank(key: MatchKey) -> int:
    """Where a key sits in its match's timeline: by ``seq``, -1 before kick-off (the order
    the table's listing keeps the keys in)."""
    return seq_rank(key[_SEQ])


def last_by_slot(ordered: list[MatchKey]) -> dict[Slot, MatchKey]:
    """Each version's last key in each phase, of keys in timeline order."""
    last: dict[Slot, MatchKey] = {}
    for key in ordered:
        if key[_PHASE] is not None:
            last[(key[_VERSION], key[_PHASE])] = key
    return last


class MatchOutputs:
    """Reads and writes ``match_to_outputs`` (whose store lists its keys per match)."""

    name = OUTPUTS_TABLE

    def __init__(
        self, writer: TableWriter[MatchKey], listing: MatchKeyed, limit: int = TIMELINE_POINTS
    ) -> None:
        if listing.order is not rank:
            raise ValueError("the outputs' listing must keep each match's keys by rank")
        self.writer = writer
        self.limit = limit
        self._listing = listing
        #: Points are decoded when a page or a score asks for them, once per change.
        self.decoded: DecodedTable[MatchKey, TimelinePoint] = DecodedTable(
            writer, TimelinePoint.model_validate_json
        )

    # -- writing ------------------------------------------------------------
    def add(self, predictions: Iterable[Prediction], role: Role) -> set[tuple[str, Slot]]:
        """Record each of ``predictions``; the (match, slot) pairs whose forecast is now one
        of them. A prediction already recorded as it is changes nothing."""
        added: dict[str, list[MatchKey]] = {}
        for prediction in predictions:
            key = output_key(prediction, role)
            # Written as bytes, not decoded: most points are never drawn or scored.
            value = point_of(prediction).model_dump_json().encode()
            if self.writer.get(key) == value:
                continue  # the same record read again
            self.writer[key] = value
            added.setdefault(prediction.match_id, []).append(key)
        touched: set[tuple[str, Slot]] = set()
        for match_id, keys in added.items():
            if self._listing.count(match_id) > self.limit:
                self._trim(match_id)  # else no group can be over its bound
            slots = (self._last_of_slot(key) for key in keys)
            touched |= {(match_id, slot) for slot in slots if slot is not None}
        return touched

    def _last_of_slot(self, key: MatchKey) -> Slot | None:
        """``key``'s slot when it is that slot's last key (no later key shares its version
        and phase), else None. Costs what comes after the key, usually nothing: a write
        never reads the match's whole history."""
        if key[_PHASE] is None or key not in self._listing:  # a finished state's, or trimmed
            return None
        slot = (key[_VERSION], key[_PHASE])
        later = self._listing.after(key)
        return None if any((k[_VERSION], k[_PHASE]) == slot for k in later) else slot

    def _trim(self, match_id: str) -> None:
        """Drop the oldest points past the bounds (each version's forecasts stay)."""
        ordered = self.ordered_keys(match_id)
        kept = set(last_by_slot(ordered).values())
        groups: dict[tuple[str, str], list[MatchKey]] = {}
        for key in ordered:
            # The champion's points share one bound; each challenger version has its own.
            group = ("champion", "") if key[_ROLE] == "champion" else ("challenger", key[_VERSION])
            groups.setdefault(group, []).append(key)
        dropped = set()
        for keys in groups.values():
            over = len(keys) - self.limit
            if over > 0:
                dropped.update([k for k in keys if k not in kept][:over])
        for key in dropped:
            self.decoded.delete(key)

    def forget(self, match_id: str) -> None:
        """Delete every output of the match (one tombstone each)."""
        for key in self._listing.keys_of(match_id):
            self.decoded.delete(key)

    # -- reading ------------------------------------------------------------
    def ordered_keys(self, match_id: str) -> list[MatchKey]:
        """The match's keys, oldest first (by seq; ties in the order first written)."""
        return self._listing.keys_of(match_id)

    def _timeline_keys(self, match_id: str) -> list[MatchKey]:
        return [k for k in self.ordered_keys(match_id) if k[_ROLE] == "champion"]

    def _point(self, key: MatchKey) -> TimelinePoint:
        point = self.decoded.get(key)
        assert point is not None  # keys come from the listing of the same store
        return point

    def timeline(self, match_id: str, last: int | None = None) -> list[TimelinePoint]:
        """The champion's predictions of the match, oldest first (the newest ``last`` of
        them only, when given); the last is the newest prediction."""
        keys = self._timeline_keys(match_id)
        return [self._point(key) for key in (keys if last is None else keys[-last:])]

    def timeline_count(self, match_id: str) -> int:
        return sum(1 for key in self._listing.keys_of(match_id) if key[_ROLE] == "champion")

    def count(self, match_id: str) -> int:
        """Every output of the match, challengers' too."""
        return self._listing.count(match_id)

    def pre_match(self, match_id: str) -> TimelinePoint | None:
        """The champion's last prediction before kick-off, if one was made."""
        before = [k for k in self._timeline_keys(match_id) if k[_PHASE] == "pre"]
        return self._point(before[-1]) if before else None

    def forecasts(self, match_id: str) -> dict[Slot, Forecast]:
        """Each version's last forecast of the match in each phase."""
        last = last_by_slot(self.ordered_keys(match_id))
        return {slot: forecast_of(self._point(key)) for slot, key in last.items()}

    def newest_at(self, match_id: str) -> dt.datetime | None:
        """When the match's last new output was made (one decode, however long the
        match; not kept: the janitor asks this of every match each minute)."""
        key = self._listing.last_written(match_id)
        point = None if key is None else self.decoded.peek(key)
        return None if point is None else point.at

    def match_ids(self) -> list[str]:
        """Every match with an output, least recently written first."""
        return self._listing.match_ids()

    def match_count(self) -> int:
        return self._listing.match_count()

    def followed(self, match_id: str) -> bool:
        """Whether any output of the match answers a livescore state (has a ``seq``): its
        newest key in timeline order has one then."""
        key = self._listing.last_in_order(match_id)
        return key is not None and key[_SEQ] is not None

    def timeline_match_ids(self) -> list[str]:
        """Matches with at least one champion prediction (the match pages' list)."""
        return [m for m in self._listing.match_ids() if self.timeline_count(m)]

    def prune(self) -> None:
        self.decoded.prune()

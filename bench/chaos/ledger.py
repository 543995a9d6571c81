"""The ledger: the chaos run against the clean run, and against its own input (pure).

- **Lost**: an input with neither a prediction nor a dead letter.
- **Redis**: each match's latest value is a prediction of its highest ``seq``.
- **Ratings**: every team's every feature within :data:`TOLERANCE` of the clean run's, on
  every running worker.
- **Scores**: the scores topic ends with the same keys (``match|version|phase``) and the
  same numbers as the clean run's, and every worker's board counts each match once per
  version and phase: its ``n`` is the number of matches scored in that slot.
- **Timelines**: each match's timeline holds each of its champion predictions once: one
  point per distinct output (what the read model keys it by: the input, the version, the
  phase), which is one of the published predictions of that output, and nothing else.
- **Duplicates**: champion outputs beyond one per input, counted by reason.

The last line of :meth:`Ledger.summary` is the issue's exact line.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from pydantic import BaseModel

from bench.chaos.observe import Observations, PointKey
from bench.chaos.season_input import SeasonInput, livescore_identity, request_identity
from schemas import OUTCOMES, Livescore, MatchRequest, MatchScore, Prediction

#: How far two floats may differ and still be the same number. JSON round trips are exact;
#: this absorbs the last bits of a batched predict (a row's probabilities can differ in the
#: 16th digit with the other rows of its batch, so an input read again in another batch
#: gets the same answer to 1e-15, not to the bit).
TOLERANCE = 1e-9
SCORE_FIELDS = ("home", "draw", "away", "log_loss", "brier", "rps", "goals_rps")
#: Mismatches named in full before the rest are only counted.
SHOWN = 5


def identity_of(prediction: Prediction) -> str:
    if prediction.trigger == "request":
        assert prediction.request_id is not None  # set exactly for requests
        return request_identity(prediction.request_id)
    assert prediction.seq is not None
    return livescore_identity(prediction.match_id, prediction.seq)


def dead_identity(payload: str | None) -> str | None:
    """The identity of a dead-lettered input, when its payload is a valid record."""
    if payload is None:
        return None
    for model in (MatchRequest, Livescore):
        try:
            record = model.model_validate_json(payload)
        except ValueError:
            continue
        if isinstance(record, MatchRequest):
            return request_identity(record.request_id)
        return livescore_identity(record.match_id, record.seq)
    return None


def point_of(prediction: Prediction) -> PointKey:
    """How a timeline shows ``prediction`` (``observe.point_key`` of its page point)."""
    return (
        prediction.predicted_at.isoformat(),
        prediction.trigger,
        prediction.seq,
        prediction.model.version,
        prediction.status,
        prediction.minute,
    )


def output_of(prediction: Prediction) -> tuple[str, str, str, str, int | None]:
    """What identifies one champion output: the input and the version that answered
    (the phase follows from the input)."""
    return (
        prediction.match_id,
        identity_of(prediction),
        prediction.model.version,
        prediction.status,
        prediction.minute,
    )


class Ledger(BaseModel):
    inputs: int
    lost: list[str]
    duplicates: dict[str, int]
    redis_wrong: list[str]
    ratings_wrong: list[str]
    scores_wrong: list[str]
    timelines_wrong: list[str]

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.ratings_wrong
            or self.scores_wrong
            or self.timelines_wrong
            or self.redis_wrong
        )

    def summary(self) -> str:
        lines = [f"duplicate outputs: {sum(self.duplicates.values())}"]
        lines += [f"  {n} {reason}" for reason, n in sorted(self.duplicates.items())]
        for title, found in (
            ("lost", self.lost),
            ("Redis not at the highest seq", self.redis_wrong),
            ("ratings differ", self.ratings_wrong),
            ("scores differ", self.scores_wrong),
            ("timelines wrong", self.timelines_wrong),
        ):
            if found:
                lines.append(f"{title}: {len(found)}")
                lines += [f"  {item}" for item in found[:SHOWN]]
        yes = {True: "yes", False: "no"}
        lines.append(
            f"chaos: {self.inputs} inputs, {len(self.lost)} lost, "
            f"{sum(self.duplicates.values())} duplicates, "
            f"ratings identical: {yes[not self.ratings_wrong]}, "
            f"scores identical: {yes[not self.scores_wrong]}, "
            f"timelines exact: {yes[not self.timelines_wrong]}"
        )
        return "\n".join(lines)


def lost_inputs(season: SeasonInput, run: Observations) -> list[str]:
    answered = {identity_of(p) for p in run.predictions}
    dead = {dead_identity(d.payload) for d in run.dead_letters}
    return [
        r.identity for r in season.records if r.identity not in answered and r.identity not in dead
    ]


def duplicates(run: Observations) -> dict[str, int]:
    """Champion outputs beyond the first of each input, by why they differ from it."""
    by_input: dict[str, list[Prediction]] = defaultdict(list)
    for prediction in run.predictions:
        by_input[identity_of(prediction)].append(prediction)
    reasons: Counter[str] = Counter()
    for answers in by_input.values():
        first = answers[0]
        for again in answers[1:]:
            if again.model.version != first.model.version:
                reasons["re-read across the alias move: answered by the other version"] += 1
            elif (again.seq, again.status, again.minute) != (first.seq, first.status, first.minute):
                reasons["a request re-read after its match moved on: answered for that state"] += 1
            elif all(
                _close(again.probabilities.of(o), first.probabilities.of(o)) for o in OUTCOMES
            ):
                reasons["re-read after a fault (at-least-once): the same answer again"] += 1
            else:
                reasons["re-read after a fault: a different answer by the same version"] += 1
    return dict(reasons)


def redis_mismatches(season: SeasonInput, run: Observations) -> list[str]:
    highest: dict[str, int] = {}
    for record in season.records:
        if record.kind == "livescore":
            seq = int(record.identity.rsplit(":", 1)[1])
            highest[record.match_id] = max(highest.get(record.match_id, -1), seq)
    published = {(p.match_id, p.seq, p.probabilities) for p in run.predictions}
    wrong = []
    for match_id, seq in highest.items():
        held = run.latest.get(match_id)
        if held is None:
            wrong.append(f"{match_id}: no value")
        elif held.seq != seq:
            wrong.append(f"{match_id}: seq {held.seq}, highest {seq}")
        elif (held.match_id, held.seq, held.probabilities) not in published:
            wrong.append(f"{match_id}: a value never published")
    return wrong


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= TOLERANCE


def ratings_mismatches(clean: Observations, chaos: Observations) -> list[str]:
    (reference,) = clean.ratings.values()
    wrong = []
    for worker, teams in chaos.ratings.items():
        if teams.keys() != reference.keys():
            wrong.append(f"{worker}: teams {sorted(teams.keys() ^ reference.keys())[:5]} differ")
            continue
        for team, features in teams.items():
            for name, value in features.items():
                if not _close(value, reference[team].get(name)):
                    wrong.append(
                        f"{worker}: {team} {name} {value!r} != {reference[team].get(name)!r}"
                    )
    return wrong


def _score_differences(key: str, a: MatchScore, b: MatchScore) -> Iterable[str]:
    for name in SCORE_FIELDS:
        if not _close(getattr(a, name), getattr(b, name)):
            yield f"{key} {name}: {getattr(b, name)!r}, clean {getattr(a, name)!r}"


def scores_mismatches(clean: Observations, chaos: Observations) -> list[str]:
    wrong = [f"{key}: missing" for key in sorted(clean.scores.keys() - chaos.scores.keys())]
    wrong += [
        f"{key}: not in the clean run" for key in sorted(chaos.scores.keys() - clean.scores.keys())
    ]
    for key in sorted(clean.scores.keys() & chaos.scores.keys()):
        wrong.extend(_score_differences(key, clean.scores[key], chaos.scores[key]))
    slots = Counter(key.split("|", 1)[1] for key in chaos.scores)
    for worker, board in chaos.board.items():
        for slot, n in sorted(board.items()):
            if n != slots.get(slot, 0):
                wrong.append(f"{worker} board {slot}: n={n}, {slots.get(slot, 0)} matches scored")
    return wrong


def timeline_mismatches(run: Observations) -> list[str]:
    by_output: dict[tuple[str, str, str, str, int | None], set[PointKey]] = defaultdict(set)
    for prediction in run.predictions:
        by_output[output_of(prediction)].add(point_of(prediction))
    wanted: dict[str, list[set[PointKey]]] = defaultdict(list)
    for output, points in by_output.items():
        wanted[output[0]].append(points)
    wrong = []
    for match_id, timeline in run.timelines.items():
        left = Counter(timeline)
        for point, n in left.items():
            if n > 1:
                wrong.append(f"{match_id}: {point} shown {n} times")
        for points in wanted.get(match_id, []):
            shown = [p for p in points if p in left]
            if len(shown) != 1:
                wrong.append(
                    f"{match_id}: an output shown {len(shown)} times ({sorted(points)[0]})"
                )
            for p in shown:
                del left[p]
        wrong += [f"{match_id}: {point} shown, never published" for point in left]
    return wrong


def ledger(season: SeasonInput, clean: Observations, chaos: Observations) -> Ledger:
    return Ledger(
        inputs=season.count(),
        lost=lost_inputs(season, chaos),
        duplicates=duplicates(chaos),
        redis_wrong=redis_mismatches(season, chaos),
        ratings_wrong=ratings_mismatches(clean, chaos),
        scores_wrong=scores_mismatches(clean, chaos),
        timelines_wrong=timeline_mismatches(chaos),
    )

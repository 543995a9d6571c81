"""The demo's tournaments: a seeded synthetic World Cup, or a real one from the data (pure,
except :func:`load_shootouts`, which reads a file).

**The synthetic World Cup** (:func:`world_cup`) is 32 well-known national teams, each with
an Elo-like strength in :data:`models.synthetic.TEAM_RATINGS`. The ratings are
approximate, chosen by hand for the demo so that favourites look like favourites; they are
not taken from any ranking. The synthetic history the demo's model is trained on starts
its teams from the same ratings, so the model's favourites are the tournament's.
The draw puts the teams in four pots by rating (the host, :data:`HOST`, heads group A) and
never puts two teams of one confederation in a group, except two from UEFA. Eight groups
of four play a round robin on three match days, in four slots a day of four simultaneous
kick-offs; the last round of a group kicks off together, as in real tournaments. Places
go by points, goal difference, goals scored, then lots (seeded). The bracket is the World
Cup's (1A v 2B, 1C v 2D, ...), then quarter-finals, semi-finals, a third-place play-off and
the final. The host plays at home (``neutral`` false, listed first); every other match is
on neutral ground.

**Goals** come from the model's own scoring rates: the Elo expected score of the rating
gap (:mod:`models.elo`) is turned into a goal supremacy by the inversion the model uses
(``models.pipeline._edge_grid``), and each side scores Poisson goals at
``GOALS_PER_SIDE * exp(+-supremacy / 2)`` per 90 minutes, at minutes uniform over the
playing time. A knockout match level after 90 minutes plays extra time (the same rates for
30 minutes, goals in minutes 91-120) and, still level, a seeded shoot-out of five kicks
each, then sudden death.

**Penalties in the events.** The wire schemas have no penalties field, so a shoot-out is
not in the ``livescores`` events: the ``finished`` event comes at minute 120 with the
score after extra time (a draw, as the data records such matches), and the tournament
name stays ``FIFA World Cup`` because the model weighs matches by that name. Who went
through is in :attr:`TournamentMatch.penalty_winner` and in the lines the demo prints
(:meth:`Tournament.announcements`).

**The demo's clock.** Kick-offs are in match-minutes from the start of the replay
(``ReplayMatch.kickoff_minute``), the real calendar compressed: a slot lasts until its
last match ends, then a short break; a longer break separates match days. The ``date``
of each match is the real calendar's day.

**A real tournament** (:func:`real_tournament`) keeps the data's matches, dates and goal
minutes. Matches of one date kick off one after another, except the last round of a group,
played together: two matches on one day whose four teams all meet in the tournament, the
other pairs of them earlier. A match with a goal after minute 90 or a shoot-out in
``shootouts.csv`` (whose winner the demo prints; the file has no shoot-out score) went to
extra time and ends at 120.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final, NamedTuple

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from models.data import DataError, MatchData
from models.elo import expected_score, rating_gap
from models.ids import match_id

# The model's own supremacy inversion, private to the pipeline: reusing it keeps the demo's
# scoring rates exactly those the model assumes, instead of a second copy that could drift.
from models.pipeline import GOALS_PER_SIDE, _edge_grid
from models.synthetic import CONFEDERATIONS, TEAM_RATINGS
from models.timeline import FULL_TIME, Goal
from models.tournaments import WORLD_CUP
from streams.cli.match_feed import ReplayMatch, select_matches

HOST: Final = "United States"
CONFEDERATION: Final[dict[str, str]] = {
    team: region for region, teams in CONFEDERATIONS.items() for team in teams
}
# Two UEFA sides may share a group: there are more of them than groups (the World Cup rule).
MAX_PER_GROUP: Final[dict[str, int]] = {"UEFA": 2}
GROUPS: Final = "ABCDEFGH"
GROUP_SIZE: Final = 4
# Positions in a group (pot order) per match day: every pair meets once.
GROUP_ROUNDS: Final = (((0, 1), (2, 3)), ((0, 2), (3, 1)), ((3, 0), (1, 2)))
GROUPS_PER_SLOT: Final = 2
KNOCKOUT_FEEDS: Final[dict[int, tuple[str, str]]] = {
    49: ("1A", "2B"),
    50: ("1C", "2D"),
    51: ("1D", "2C"),
    52: ("1B", "2A"),
    53: ("1E", "2F"),
    54: ("1G", "2H"),
    55: ("1F", "2E"),
    56: ("1H", "2G"),
    57: ("W49", "W50"),
    58: ("W53", "W54"),
    59: ("W51", "W52"),
    60: ("W55", "W56"),
    61: ("W57", "W58"),
    62: ("W59", "W60"),
    63: ("L61", "L62"),
    64: ("W61", "W62"),
}
#: Knockout match days: (round, slots of match numbers kicking off together).
KNOCKOUT_DAYS: Final[tuple[tuple[str, tuple[tuple[int, ...], ...]], ...]] = (
    ("Round of 16", ((49, 50), (51, 52))),
    ("Round of 16", ((53, 54), (55, 56))),
    ("Quarter-finals", ((57, 58), (59, 60))),
    ("Semi-finals", ((61,), (62,))),
    ("Third place play-off", ((63,),)),
    ("Final", ((64,),)),
)
GROUP_STAGE: Final = "Group stage"
FINAL: Final = "Final"
# Days after the opening day, roughly a real World Cup's rhythm.
DAY_OFFSETS: Final = (0, 5, 10, 15, 16, 20, 24, 27, 28)

EXTRA_TIME_END: Final = 120
PENALTY_KICKS: Final = 5
PENALTY_CONVERSION: Final = 0.75  # about three in four shoot-out kicks are scored

# The demo's compressed clock, in match-minutes.
FIRST_KICKOFF_MINUTE: Final = 10.0  # room for the first pre-match requests
SLOT_BREAK_MINUTES: Final = 15.0
DAY_BREAK_MINUTES: Final = 45.0
MAX_DRAW_ATTEMPTS: Final = 1000

SHOOTOUTS_FILE: Final = "shootouts.csv"
SHOOTOUT_COLUMNS: Final = ("date", "home_team", "away_team", "winner")


class TournamentMatch(BaseModel):
    """One match of a tournament: fixture, place in the calendar and result."""

    model_config = ConfigDict(frozen=True)

    number: int = Field(ge=1, description="Match number, in kick-off order (1..64).")
    round: str = Field(description="Group stage, Round of 16, ..., Final.")
    group: str | None = Field(None, description="Group letter, for a group match.")
    group_round: int | None = Field(None, ge=1, description="Group match day, 1..3.")
    date: dt.date
    day: int = Field(ge=0, description="Match day of the tournament, from 0.")
    kickoff_minute: float = Field(ge=0, description="Kick-off on the demo's clock.")
    home_team: str
    away_team: str
    neutral: bool
    tournament: str
    home_score: int = Field(ge=0, description="After 90 minutes, or after extra time.")
    away_score: int = Field(ge=0)
    goals: tuple[Goal, ...] = ()
    knockout: bool = Field(
        False, description="Played to a winner (a real match: if it went to extra time)."
    )
    extra_time: bool = False
    penalties: tuple[int, int] | None = Field(None, description="Shoot-out score, if known.")
    penalty_winner: str | None = None
    home_from: str | None = Field(None, description="Where the home side came from: 1A, W49.")
    away_from: str | None = None

    @property
    def match_id(self) -> str:
        return match_id(self.date, self.home_team, self.away_team)

    @property
    def stage(self) -> str:
        return f"Group {self.group}" if self.group else self.round

    @property
    def day_title(self) -> str:
        """``Group stage, match day 2``, ``Quarter-finals``: what the day is, for a header."""
        if self.group_round is not None:
            return f"{self.round}, match day {self.group_round}"
        return self.round

    @property
    def end_minute(self) -> int:
        last = max((g.minute or 0 for g in self.goals), default=0)
        return EXTRA_TIME_END if self.extra_time else max(FULL_TIME, last)

    @property
    def winner(self) -> str | None:
        """The side that won or went through; None for a draw in a group."""
        if self.home_score != self.away_score:
            return self.home_team if self.home_score > self.away_score else self.away_team
        return self.penalty_winner

    @property
    def loser(self) -> str | None:
        winner = self.winner
        if winner is None:
            return None
        return self.away_team if winner == self.home_team else self.home_team

    def replay(self) -> ReplayMatch:
        """The match as the replay feeds it: timed ``livescores`` events."""
        return ReplayMatch(
            match_id=self.match_id,
            date=self.date,
            home_team=self.home_team,
            away_team=self.away_team,
            neutral=self.neutral,
            tournament=self.tournament,
            home_score=self.home_score,
            away_score=self.away_score,
            goals=self.goals,
            kickoff_minute=self.kickoff_minute,
            end_minute=EXTRA_TIME_END if self.extra_time else None,
        )

    def result_line(self) -> str:
        """``Final: Argentina 3-3 France after extra time; Argentina win 4-2 on penalties``."""
        line = f"{self.stage}: {self.home_team} {self.home_score}-{self.away_score} "
        line += self.away_team
        if self.extra_time:
            line += " after extra time"
        if self.penalty_winner is not None:
            score = f" {max(self.penalties)}-{min(self.penalties)}" if self.penalties else ""
            line += f"; {self.penalty_winner} win{score} on penalties"
        return line


class Standing(BaseModel):
    """A team's line in its group table."""

    model_config = ConfigDict(frozen=True)

    team: str
    played: int = 0
    won: int = 0
    drawn: int = 0
    lost: int = 0
    goals_for: int = 0
    goals_against: int = 0

    @property
    def points(self) -> int:
        return 3 * self.won + self.drawn

    @property
    def goal_difference(self) -> int:
        return self.goals_for - self.goals_against


class Tournament(BaseModel):
    """A whole tournament, its matches in kick-off order."""

    model_config = ConfigDict(frozen=True)

    name: str
    seed: int | None = None
    groups: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="Each group's teams in pot order."
    )
    group_order: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="Each group's final table, first to last."
    )
    matches: tuple[TournamentMatch, ...]

    @property
    def champion(self) -> str | None:
        finals = [m for m in self.matches if m.round == FINAL]
        return finals[-1].winner if finals else None

    def replays(self, limit: int | None = None) -> list[ReplayMatch]:
        """The first ``limit`` matches (all by default) as the replay feeds them."""
        return [m.replay() for m in self.matches[:limit]]

    def announcements(self) -> dict[str, list[str]]:
        """Lines to print once a match has finished, keyed by its ``match_id``: extra time
        and shoot-outs, the group tables after the last group match, the champion."""
        out: dict[str, list[str]] = {}
        for match in self.matches:
            if match.extra_time or match.penalty_winner is not None:
                out.setdefault(match.match_id, []).append(match.result_line())
        group_matches = [m for m in self.matches if m.group is not None]
        if group_matches and self.group_order:
            last = max(group_matches, key=lambda m: (m.kickoff_minute, m.number))
            tables = out.setdefault(last.match_id, [])
            for group, order in self.group_order.items():
                table = {s.team: s for s in standings(order, group_matches)}
                rows = ", ".join(f"{team} {table[team].points}" for team in order)
                tables.append(f"Group {group}: {rows} - {order[0]} and {order[1]} go through")
        champion = self.champion
        if champion is not None:
            final = [m for m in self.matches if m.round == FINAL][-1]
            out.setdefault(final.match_id, []).append(f"{champion} win the {self.name}")
        return out


def standings(teams: Iterable[str], matches: Iterable[TournamentMatch]) -> list[Standing]:
    """The table of ``teams`` from those of ``matches`` played between them, in the order
    given (rank it with :func:`rank`)."""
    members = list(teams)
    table = {team: Standing(team=team) for team in members}
    for m in matches:
        if m.home_team not in table or m.away_team not in table:
            continue
        for team, scored, conceded in (
            (m.home_team, m.home_score, m.away_score),
            (m.away_team, m.away_score, m.home_score),
        ):
            s = table[team]
            table[team] = s.model_copy(
                update={
                    "played": s.played + 1,
                    "won": s.won + (scored > conceded),
                    "drawn": s.drawn + (scored == conceded),
                    "lost": s.lost + (scored < conceded),
                    "goals_for": s.goals_for + scored,
                    "goals_against": s.goals_against + conceded,
                }
            )
    return [table[team] for team in members]


def rank(table: Sequence[Standing], lots: Mapping[str, float]) -> list[Standing]:
    """Points, then goal difference, then goals scored, then the lowest lot first."""
    return sorted(table, key=lambda s: (-s.points, -s.goal_difference, -s.goals_for, lots[s.team]))


def scoring_rates(home_elo: float, away_elo: float, neutral: bool) -> tuple[float, float]:
    """Goals per 90 minutes of each side, as the model's Poisson goal model has them."""
    gap = rating_gap(home_elo, away_elo, float(neutral))
    # The expected score is P(win) + P(draw) / 2, so 2 * expected - 1 is P(win) - P(loss):
    # the edge the model's grid inverts.
    edge = 2.0 * float(expected_score(gap)) - 1.0
    edges, supremacies = _edge_grid()
    supremacy = float(np.interp(edge, edges, supremacies))
    return GOALS_PER_SIDE * math.exp(supremacy / 2), GOALS_PER_SIDE * math.exp(-supremacy / 2)


def shootout(rng: np.random.Generator) -> tuple[int, int]:
    """Kicks scored by the side kicking first and the other: five each, stopped as soon as
    one side cannot catch up, then sudden death."""
    scored = [0, 0]
    for kick in range(2 * PENALTY_KICKS):
        side = kick % 2
        scored[side] += bool(rng.random() < PENALTY_CONVERSION)
        left = (PENALTY_KICKS - (kick + 2) // 2, PENALTY_KICKS - (kick + 1) // 2)
        if scored[0] + left[0] < scored[1] or scored[1] + left[1] < scored[0]:
            return scored[0], scored[1]
    while scored[0] == scored[1]:
        scored[0] += bool(rng.random() < PENALTY_CONVERSION)
        scored[1] += bool(rng.random() < PENALTY_CONVERSION)
    return scored[0], scored[1]


class _Result(NamedTuple):
    home_score: int
    away_score: int
    goals: tuple[Goal, ...]
    extra_time: bool
    penalties: tuple[int, int] | None

    @property
    def end_minute(self) -> int:
        return EXTRA_TIME_END if self.extra_time else FULL_TIME


def _goals(rng: np.random.Generator, side: str, n: int, first: int, last: int) -> list[Goal]:
    minutes = rng.integers(first, last + 1, size=n)
    return [Goal(side=side, minute=int(m)) for m in minutes]


def play(rng: np.random.Generator, home: str, away: str, neutral: bool, knockout: bool) -> _Result:
    """One match between two teams of :data:`TEAM_RATINGS`."""
    mu_home, mu_away = scoring_rates(TEAM_RATINGS[home], TEAM_RATINGS[away], neutral)
    h, a = int(rng.poisson(mu_home)), int(rng.poisson(mu_away))
    goals = _goals(rng, "home", h, 1, FULL_TIME) + _goals(rng, "away", a, 1, FULL_TIME)
    extra_time, penalties = False, None
    if knockout and h == a:
        extra_time = True
        share = (EXTRA_TIME_END - FULL_TIME) / FULL_TIME
        eh, ea = int(rng.poisson(mu_home * share)), int(rng.poisson(mu_away * share))
        goals += _goals(rng, "home", eh, FULL_TIME + 1, EXTRA_TIME_END)
        goals += _goals(rng, "away", ea, FULL_TIME + 1, EXTRA_TIME_END)
        h, a = h + eh, a + ea
        if h == a:
            penalties = shootout(rng)
    ordered = tuple(sorted(goals, key=lambda g: (g.minute or 0, g.side != "home")))
    return _Result(h, a, ordered, extra_time, penalties)


def pots() -> list[list[str]]:
    """Four pots of eight by rating; the host heads pot 1."""
    ranked = sorted((t for t in TEAM_RATINGS if t != HOST), key=lambda t: (-TEAM_RATINGS[t], t))
    size = len(GROUPS)
    first = [HOST, *ranked[: size - 1]]
    rest = ranked[size - 1 :]
    return [first] + [rest[i : i + size] for i in range(0, len(rest), size)]


def _allowed(team: str, group: list[str]) -> bool:
    region = CONFEDERATION[team]
    same = sum(CONFEDERATION[t] == region for t in group)
    return same < MAX_PER_GROUP.get(region, 1)


def _try_draw(rng: np.random.Generator) -> dict[str, tuple[str, ...]] | None:
    """One draw, pot after pot; None at a dead end (a team fits no group left open)."""
    groups: list[list[str]] = [[] for _ in GROUPS]
    groups[0].append(HOST)
    for position, pot in enumerate(pots()):
        for team in (str(t) for t in rng.permutation([t for t in pot if t != HOST])):
            open_groups = [
                i for i, g in enumerate(groups) if len(g) == position and _allowed(team, g)
            ]
            if not open_groups:
                return None
            groups[int(rng.choice(open_groups))].append(team)
    return {letter: tuple(g) for letter, g in zip(GROUPS, groups, strict=True)}


def draw_groups(rng: np.random.Generator) -> dict[str, tuple[str, ...]]:
    """Eight groups of four, one team from each pot, the host first in group A."""
    for _ in range(MAX_DRAW_ATTEMPTS):
        groups = _try_draw(rng)
        if groups is not None:
            return groups
    raise RuntimeError("no draw met the confederation rules")  # the teams above always allow one


class _Clock:
    """Kick-offs on the demo's compressed clock, slot after slot."""

    def __init__(self) -> None:
        self.minute = FIRST_KICKOFF_MINUTE
        self.day: int | None = None

    def kickoff(self, day: int, lasts: int) -> float:
        if self.day is not None and day != self.day:
            self.minute += DAY_BREAK_MINUTES - SLOT_BREAK_MINUTES
        self.day = day
        kickoff = self.minute
        self.minute += lasts + SLOT_BREAK_MINUTES
        return kickoff


class _Fixture(NamedTuple):
    number: int
    home: str
    away: str
    home_from: str | None = None
    away_from: str | None = None
    group: str | None = None
    group_round: int | None = None


def _venue(fixture: _Fixture) -> tuple[_Fixture, bool]:
    """The fixture with the host at home, and whether the ground is neutral."""
    if fixture.away == HOST:
        fixture = fixture._replace(
            home=fixture.away,
            away=fixture.home,
            home_from=fixture.away_from,
            away_from=fixture.home_from,
        )
    return fixture, HOST not in (fixture.home, fixture.away)


def _shootout_winner(home: str, away: str, penalties: tuple[int, int] | None) -> str | None:
    if penalties is None:
        return None
    return home if penalties[0] > penalties[1] else away


def _play_slot(
    rng: np.random.Generator,
    clock: _Clock,
    fixtures: Sequence[_Fixture],
    *,
    day: int,
    date: dt.date,
    round_name: str,
) -> list[TournamentMatch]:
    """Play the matches kicking off together; the slot lasts until the last one ends."""
    played = []
    for fixture in fixtures:
        fixture, neutral = _venue(fixture)
        knockout = fixture.home_from is not None
        played.append((fixture, neutral, play(rng, fixture.home, fixture.away, neutral, knockout)))
    kickoff = clock.kickoff(day, max(result.end_minute for _, _, result in played))
    return [
        TournamentMatch(
            number=f.number,
            round=round_name,
            group=f.group,
            group_round=f.group_round,
            date=date,
            day=day,
            kickoff_minute=kickoff,
            home_team=f.home,
            away_team=f.away,
            neutral=neutral,
            tournament=WORLD_CUP,
            home_score=result.home_score,
            away_score=result.away_score,
            goals=result.goals,
            knockout=f.home_from is not None,
            extra_time=result.extra_time,
            penalties=result.penalties,
            penalty_winner=_shootout_winner(f.home, f.away, result.penalties),
            home_from=f.home_from,
            away_from=f.away_from,
        )
        for f, neutral, result in played
    ]


def _group_slots(groups: Mapping[str, Sequence[str]]) -> list[list[list[_Fixture]]]:
    """Match days of slots of fixtures: two groups per slot, both matches of a group
    together, numbered in kick-off order."""
    days: list[list[list[_Fixture]]] = []
    number = 0
    letters = list(groups)
    for group_round, pairs in enumerate(GROUP_ROUNDS, 1):
        day: list[list[_Fixture]] = []
        for first in range(0, len(letters), GROUPS_PER_SLOT):
            slot = []
            for letter in letters[first : first + GROUPS_PER_SLOT]:
                teams = groups[letter]
                for home_at, away_at in pairs:
                    number += 1
                    slot.append(
                        _Fixture(
                            number,
                            teams[home_at],
                            teams[away_at],
                            group=letter,
                            group_round=group_round,
                        )
                    )
            day.append(slot)
        days.append(day)
    return days


def world_cup(seed: int, start: dt.date) -> Tournament:
    """The synthetic World Cup of ``seed``, opening on ``start`` (same input, same output)."""
    rng = np.random.default_rng(seed)
    groups = draw_groups(rng)
    clock = _Clock()
    matches: list[TournamentMatch] = []
    for day, slots in enumerate(_group_slots(groups)):
        date = start + dt.timedelta(days=DAY_OFFSETS[day])
        for fixtures in slots:
            matches += _play_slot(rng, clock, fixtures, day=day, date=date, round_name=GROUP_STAGE)

    group_order = {}
    for letter, teams in groups.items():
        lots = {team: float(rng.random()) for team in teams}
        ranked = rank(standings(teams, matches), lots)
        group_order[letter] = tuple(s.team for s in ranked)

    by_number: dict[int, TournamentMatch] = {}

    def team_from(source: str) -> str:
        kind, rest = source[0], source[1:]
        if kind in "12":
            return group_order[rest][int(kind) - 1]
        fed = by_number[int(rest)]
        team = fed.winner if kind == "W" else fed.loser
        assert team is not None  # a knockout match always has a winner
        return team

    for offset, (round_name, slots) in enumerate(KNOCKOUT_DAYS):
        day = len(GROUP_ROUNDS) + offset
        date = start + dt.timedelta(days=DAY_OFFSETS[day])
        for numbers in slots:
            fixtures = [
                _Fixture(n, team_from(home), team_from(away), home, away)
                for n in numbers
                for home, away in [KNOCKOUT_FEEDS[n]]
            ]
            played = _play_slot(rng, clock, fixtures, day=day, date=date, round_name=round_name)
            by_number.update((m.number, m) for m in played)
            matches += played

    return Tournament(
        name=f"{WORLD_CUP} {start.year}",
        seed=seed,
        groups=groups,
        group_order=group_order,
        matches=tuple(matches),
    )


def load_shootouts(path: str | Path) -> dict[str, str]:
    """The shoot-out winner of each match in ``shootouts.csv`` beside ``results.csv``,
    keyed by ``match_id``; empty when the data has no such file."""
    root = Path(path).expanduser()
    csv = (root.parent if root.is_file() else root) / SHOOTOUTS_FILE
    if not csv.is_file():
        return {}
    try:
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{csv}: not a readable CSV ({type(exc).__name__})") from exc
    missing = [c for c in SHOOTOUT_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{csv}: missing column(s) {', '.join(missing)}")
    try:
        return {
            match_id(row.date, row.home_team, row.away_team): row.winner
            for row in frame.itertuples(index=False)
        }
    except ValueError as exc:
        raise DataError(f"{csv}: {exc}") from None


def _last_group_round(
    a: ReplayMatch, b: ReplayMatch, first_met: Mapping[frozenset[str], dt.date]
) -> bool:
    # Four teams that all met each other are a group. Two of their matches on one day are
    # its last round, played together, when every other pair of them had met before.
    teams = {a.home_team, a.away_team, b.home_team, b.away_team}
    if len(teams) != GROUP_SIZE:
        return False
    playing = {frozenset((a.home_team, a.away_team)), frozenset((b.home_team, b.away_team))}
    pairs = {frozenset(p) for p in itertools.combinations(sorted(teams), 2)}
    return all(p in first_met for p in pairs) and all(
        first_met[p] < a.date for p in pairs - playing
    )


def _real_slots(
    day: list[ReplayMatch], first_met: Mapping[frozenset[str], dt.date]
) -> list[list[ReplayMatch]]:
    slots: list[list[ReplayMatch]] = []
    for match in day:
        partner = next(
            (s for s in slots if len(s) == 1 and _last_group_round(s[0], match, first_met)),
            None,
        )
        if partner is not None:
            partner.append(match)
        else:
            slots.append([match])
    return slots


def real_tournament(
    data: MatchData, tournament: str, year: int, shootouts: Mapping[str, str]
) -> Tournament:
    """The matches of ``tournament`` played in ``year``, timed on the demo's clock with
    their goal minutes, and the shoot-out winners of ``shootouts`` (:func:`load_shootouts`).
    Empty ``matches`` when the data has none."""
    chosen = select_matches(data, tournament=tournament, year=year)
    first_met: dict[frozenset[str], dt.date] = {}
    for m in chosen:
        first_met.setdefault(frozenset((m.home_team, m.away_team)), m.date)
    by_date: dict[dt.date, list[ReplayMatch]] = {}
    for m in chosen:
        by_date.setdefault(m.date, []).append(m)
    clock = _Clock()
    matches: list[TournamentMatch] = []
    for day, date in enumerate(sorted(by_date)):
        for slot in _real_slots(by_date[date], first_met):
            timed = []
            for m in slot:
                winner = shootouts.get(m.match_id)
                late = any((g.minute or 0) > FULL_TIME for g in m.goals)
                timed.append((m, winner, winner is not None or late))
            lasts = max(EXTRA_TIME_END if extra else FULL_TIME for _, _, extra in timed)
            kickoff = clock.kickoff(day, lasts)
            matches += [
                TournamentMatch(
                    number=len(matches) + i + 1,
                    round=f"Match day {day + 1}",
                    date=date,
                    day=day,
                    kickoff_minute=kickoff,
                    home_team=m.home_team,
                    away_team=m.away_team,
                    neutral=m.neutral,
                    tournament=m.tournament,
                    home_score=m.home_score,
                    away_score=m.away_score,
                    goals=m.goals,
                    knockout=extra,
                    extra_time=extra,
                    penalty_winner=winner,
                )
                for i, (m, winner, extra) in enumerate(timed)
            ]
    return Tournament(
        name=f"{chosen[0].tournament} {year}" if chosen else tournament, matches=tuple(matches)
    )


def tournament_years(data: MatchData, tournament: str) -> list[int]:
    """The calendar years in which ``data`` has matches of ``tournament``, oldest first."""
    results = data.results
    chosen = results[results["tournament"].str.casefold() == tournament.casefold()]
    return sorted({int(y) for y in chosen["date"].dt.year})


def goals_per_match(matches: Iterable[TournamentMatch | ReplayMatch]) -> float:
    """Mean goals per match, extra time included."""
    totals = [m.home_score + m.away_score for m in matches]
    return sum(totals) / len(totals) if totals else float("nan")

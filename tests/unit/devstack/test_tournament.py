"""Unit tests of the demo's tournaments: the draw, the groups, the bracket, the clock, the
pre-match requests, the goals and the replay of a real World Cup."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from devstack.tournament import (
    CONFEDERATION,
    EXTRA_TIME_END,
    FINAL,
    GROUP_STAGE,
    HOST,
    KNOCKOUT_DAYS,
    KNOCKOUT_FEEDS,
    MAX_PER_GROUP,
    TEAM_RATINGS,
    Tournament,
    TournamentMatch,
    goals_per_match,
    load_shootouts,
    rank,
    real_tournament,
    scoring_rates,
    shootout,
    standings,
    world_cup,
)
from models.data import MatchData, load_results
from models.elo import expected_score, rating_gap
from models.pipeline import GOALS_PER_SIDE, _skellam_outcome
from models.timeline import FULL_TIME, MAX_MINUTE
from models.tournaments import WORLD_CUP
from schemas import Livescore
from streams.cli.match_feed import request_schedule, schedule

START = dt.date(2026, 6, 11)
NOW = dt.datetime(2026, 6, 11, 18, tzinfo=dt.UTC)
SEEDS = range(2026, 2046)
#: Where a checkout keeps the public international results dataset (git ignores ``data/``).
DATA = Path(__file__).resolve().parents[3] / "data" / "international_results"


@pytest.fixture(scope="module")
def cups() -> list[Tournament]:
    return [world_cup(seed, START) for seed in SEEDS]


@pytest.fixture(scope="module")
def cup(cups: list[Tournament]) -> Tournament:
    return cups[0]


@pytest.fixture(scope="module")
def real_data() -> MatchData:
    if not DATA.is_dir():
        pytest.skip(f"the international_results data is not at {DATA}")
    return load_results(DATA)


def group_matches(cup: Tournament) -> list[TournamentMatch]:
    return [m for m in cup.matches if m.round == GROUP_STAGE]


def knockouts(cup: Tournament) -> list[TournamentMatch]:
    return [m for m in cup.matches if m.round != GROUP_STAGE]


def goals_in_90(match: TournamentMatch) -> tuple[int, int]:
    regular = [g for g in match.goals if (g.minute or 0) <= FULL_TIME]
    home = sum(g.side == "home" for g in regular)
    return home, len(regular) - home


def test_32_known_teams_drawn_into_8_groups_with_confederations_apart(
    cups: list[Tournament],
) -> None:
    # Every team is in the synthetic history, so the demo's champion model knows it.
    assert len(TEAM_RATINGS) == 32 and set(TEAM_RATINGS) <= set(CONFEDERATION)
    for cup in cups:
        drawn = [t for teams in cup.groups.values() for t in teams]
        assert sorted(drawn) == sorted(TEAM_RATINGS)
        assert cup.groups["A"][0] == HOST
        for teams in cup.groups.values():
            regions = Counter(CONFEDERATION[t] for t in teams)
            assert all(n <= MAX_PER_GROUP.get(r, 1) for r, n in regions.items()), teams
    assert len({tuple(c.groups.items()) for c in cups}) > 1, "the draw depends on the seed"


def test_every_team_plays_each_group_rival_once(cups: list[Tournament]) -> None:
    for cup in cups:
        matches = group_matches(cup)
        assert len(matches) == 48
        for letter, teams in cup.groups.items():
            mine = [m for m in matches if m.group == letter]
            pairs = Counter(frozenset((m.home_team, m.away_team)) for m in mine)
            assert pairs == Counter(frozenset(p) for p in itertools.combinations(teams, 2))
            for team in teams:
                rounds = [m.group_round for m in mine if team in (m.home_team, m.away_team)]
                assert sorted(rounds) == [1, 2, 3]


def test_only_the_host_plays_at_home(cup: Tournament) -> None:
    for m in cup.matches:
        assert m.neutral == (HOST not in (m.home_team, m.away_team))
        if not m.neutral:
            assert m.home_team == HOST


def fixture(home: str, away: str, score: tuple[int, int]) -> TournamentMatch:
    return TournamentMatch(
        number=1,
        round=GROUP_STAGE,
        group="A",
        group_round=1,
        date=START,
        day=0,
        kickoff_minute=0,
        home_team=home,
        away_team=away,
        neutral=True,
        tournament=WORLD_CUP,
        home_score=score[0],
        away_score=score[1],
    )


def test_standings_count_points_then_goal_difference_goals_and_lots() -> None:
    played = [
        fixture("Spain", "Japan", (3, 0)),
        fixture("Germany", "Costa Rica", (1, 1)),
        fixture("Japan", "Germany", (2, 1)),
        fixture("Costa Rica", "Spain", (0, 1)),
        fixture("Japan", "Costa Rica", (0, 0)),
        fixture("Germany", "Spain", (2, 0)),
        fixture("Brazil", "Serbia", (9, 0)),  # another group: not counted
    ]
    teams = ["Spain", "Japan", "Germany", "Costa Rica"]
    table = {s.team: s for s in standings(teams, played)}
    spain = table["Spain"]
    assert (spain.played, spain.won, spain.drawn, spain.lost) == (3, 2, 0, 1)
    assert (spain.goals_for, spain.goals_against, spain.points) == (4, 2, 6)
    assert (table["Costa Rica"].points, table["Costa Rica"].goal_difference) == (2, -1)
    # Germany and Japan: 4 points and goal difference 0 each; Germany scored more.
    lots = {"Spain": 0.9, "Japan": 0.1, "Germany": 0.5, "Costa Rica": 0.0}
    assert [s.team for s in rank(list(table.values()), lots)] == [
        "Spain",
        "Germany",
        "Japan",
        "Costa Rica",
    ]
    # All level on points, goal difference and goals: the lots decide.
    level = standings(teams, [])
    assert [s.team for s in rank(level, lots)] == ["Costa Rica", "Japan", "Germany", "Spain"]


def test_group_places_follow_the_table(cups: list[Tournament]) -> None:
    for cup in cups:
        for letter, order in cup.group_order.items():
            assert sorted(order) == sorted(cup.groups[letter])
            table = {s.team: s for s in standings(order, group_matches(cup))}
            keys = [(table[t].points, table[t].goal_difference, table[t].goals_for) for t in order]
            assert keys == sorted(keys, reverse=True)


def fed_by(cup: Tournament, by_number: dict[int, TournamentMatch], source: str) -> str | None:
    """The team a bracket source names: 1A (winner of group A), W49, L61."""
    kind, rest = source[0], source[1:]
    if kind in "12":
        return cup.group_order[rest][int(kind) - 1]
    fed = by_number[int(rest)]
    return fed.winner if kind == "W" else fed.loser


def test_the_knockout_tree_is_consistent(cups: list[Tournament]) -> None:
    for cup in cups:
        by_number = {m.number: m for m in knockouts(cup)}
        assert sorted(by_number) == list(range(49, 65))

        for number, (home_from, away_from) in KNOCKOUT_FEEDS.items():
            m = by_number[number]
            assert {m.home_from, m.away_from} == {home_from, away_from}
            assert {m.home_team, m.away_team} == {
                fed_by(cup, by_number, home_from),
                fed_by(cup, by_number, away_from),
            }
            assert fed_by(cup, by_number, m.home_from or "") == m.home_team
            assert m.winner in (m.home_team, m.away_team) and m.loser != m.winner
        for round_name, _ in KNOCKOUT_DAYS:
            sides = [
                t
                for m in knockouts(cup)
                if m.round == round_name
                for t in (m.home_team, m.away_team)
            ]
            assert len(sides) == len(set(sides)), f"a team plays twice in the {round_name}"
        (final,) = [m for m in cup.matches if m.round == FINAL]
        assert cup.champion == final.winner
        # The champion never lost a knockout match; everyone else in the knockouts did.
        losers = {m.loser for m in knockouts(cup) if m.number != 63}
        assert cup.champion not in losers
        assert len(losers) == 15


def test_level_knockouts_go_to_extra_time_then_penalties(cups: list[Tournament]) -> None:
    shootouts = 0
    for cup in cups:
        for m in cup.matches:
            home_90, away_90 = goals_in_90(m)
            if not m.knockout or home_90 != away_90:
                assert not m.extra_time and m.penalties is None
                assert all((g.minute or 0) <= FULL_TIME for g in m.goals)
                assert (home_90, away_90) == (m.home_score, m.away_score)
                continue
            assert m.extra_time and m.end_minute == EXTRA_TIME_END
            assert all(1 <= (g.minute or 0) <= EXTRA_TIME_END for g in m.goals)
            if m.home_score == m.away_score:
                shootouts += 1
                assert m.penalties is not None
                home_pens, away_pens = m.penalties
                winner = m.home_team if home_pens > away_pens else m.away_team
                assert m.penalty_winner == winner == m.winner
                assert "on penalties" in m.result_line()
            else:
                assert m.penalties is None and m.penalty_winner is None
    assert shootouts > 0, "twenty World Cups without a shoot-out: the test proves nothing"


def test_shootouts_follow_the_rules() -> None:
    rng = np.random.default_rng(5)
    for _ in range(500):
        first, second = shootout(rng)
        assert first != second
        if max(first, second) > 5:
            assert abs(first - second) == 1, "sudden death ends one kick apart"
        else:
            assert abs(first - second) <= 3, "stopped once one side cannot catch up"


def test_kickoffs_are_shared_never_overlap_for_a_team_and_groups_come_first(
    cups: list[Tournament],
) -> None:
    for cup in cups:
        kickoffs = Counter(m.kickoff_minute for m in group_matches(cup))
        assert set(kickoffs.values()) == {4}, "four matches kick off together"
        for letter in cup.groups:
            last = [m for m in group_matches(cup) if m.group == letter and m.group_round == 3]
            assert len({m.kickoff_minute for m in last}) == 1, "a group's last round is at once"
        for team in TEAM_RATINGS:
            mine = sorted(
                (m.kickoff_minute, m.kickoff_minute + m.end_minute)
                for m in cup.matches
                if team in (m.home_team, m.away_team)
            )
            assert all(a[1] < b[0] for a, b in itertools.pairwise(mine)), team
        group_end = max(m.kickoff_minute + m.end_minute for m in group_matches(cup))
        assert group_end < min(m.kickoff_minute for m in knockouts(cup))
        assert max(m.date for m in group_matches(cup)) < min(m.date for m in knockouts(cup))
        assert {m.day for m in group_matches(cup)} == {0, 1, 2}
        in_order = list(cup.matches)
        assert in_order == sorted(in_order, key=lambda m: (m.kickoff_minute, m.number))
        assert [m.date for m in in_order] == sorted(m.date for m in in_order)
        assert [m.number for m in group_matches(cup)] == list(range(1, 49))


def test_every_match_gets_one_request_before_its_kickoff(cup: Tournament) -> None:
    replays = cup.replays()
    events = schedule(replays, speed=10, start=NOW)
    requests = request_schedule(replays, speed=10, lead_minutes=10, request_prefix="t")
    assert Counter(r.request.match_id for r in requests) == Counter(m.match_id for m in replays)
    first_event = {}
    for e in events:
        first_event.setdefault(e.event.match_id, e)
    for r in requests:
        kickoff = first_event[r.request.match_id]
        assert r.delay < kickoff.delay
        assert kickoff.event.status == "live" and kickoff.event.minute == 0
        sent = r.request
        assert (sent.home_team, sent.away_team, sent.date, sent.neutral, sent.tournament) == (
            kickoff.event.home_team,
            kickoff.event.away_team,
            kickoff.event.date,
            kickoff.event.neutral,
            kickoff.event.tournament,
        )
    assert len({r.request.request_id for r in requests}) == len(requests)


def test_events_stay_on_the_contract_clock_and_extra_time_ends_at_120(
    cups: list[Tournament],
) -> None:
    for cup in cups[:5]:
        events = [e.event for e in schedule(cup.replays(), speed=60, start=NOW)]
        assert all(0 <= e.minute <= MAX_MINUTE for e in events)
        finished = {e.match_id: e for e in events if e.status == "finished"}
        assert len(finished) == len(cup.matches)
        for m in cup.matches:
            end = finished[m.match_id]
            assert end.minute == (EXTRA_TIME_END if m.extra_time else FULL_TIME)
            assert (end.home_goals, end.away_goals) == (m.home_score, m.away_score)
            assert end.tournament == WORLD_CUP  # the model weighs matches by this name
        assert all(isinstance(e, Livescore) for e in events)


def test_the_same_seed_gives_the_same_tournament(cup: Tournament) -> None:
    assert world_cup(cup.seed or 0, START) == cup
    assert world_cup((cup.seed or 0) + 1, START) != cup


def test_scoring_rates_are_the_models_poisson_rates() -> None:
    assert scoring_rates(1800, 1800, neutral=True) == pytest.approx((GOALS_PER_SIDE,) * 2)
    strong, weak = scoring_rates(2100, 1700, neutral=True)
    assert strong > GOALS_PER_SIDE > weak
    home, away = scoring_rates(1800, 1800, neutral=False)
    assert home > away, "the home advantage counts off neutral ground"
    # The model's Poisson outcome at these rates gives back the Elo expected score.
    for home_elo, away_elo, neutral in [(2100, 1700, True), (1750, 1950, False)]:
        mu_home, mu_away = scoring_rates(home_elo, away_elo, neutral)
        supremacy = np.log(mu_home / mu_away)
        p = _skellam_outcome(np.array([supremacy]), np.zeros(1), np.ones(1))[0]
        expected = expected_score(rating_gap(home_elo, away_elo, float(neutral)))
        assert p[0] + p[1] / 2 == pytest.approx(float(expected), abs=1e-3)


def test_goals_per_match_are_close_to_real_world_cups(
    cups: list[Tournament], real_data: MatchData
) -> None:
    results = real_data.results
    world_cups = results[results["tournament"] == WORLD_CUP]
    real_mean = float((world_cups["home_score"] + world_cups["away_score"]).mean())
    simulated = goals_per_match(m for cup in cups for m in cup.matches)
    assert abs(simulated - real_mean) < 0.3, (simulated, real_mean)
    totals = Counter(m.home_score + m.away_score for cup in cups for m in cup.matches)
    assert totals[0] > 0 and max(totals) >= 6, "goalless draws and big wins both happen"


def test_the_2022_world_cup_replays_with_its_goal_minutes(real_data: MatchData) -> None:
    cup = real_tournament(real_data, WORLD_CUP, 2022, load_shootouts(DATA))
    assert cup.name == "FIFA World Cup 2022"
    assert len(cup.matches) == 64
    for m in cup.matches:
        assert len(m.goals) == m.home_score + m.away_score
        assert all(g.minute is not None for g in m.goals)
    final = cup.matches[-1]
    assert (final.home_team, final.away_team, final.home_score, final.away_score) == (
        "Argentina",
        "France",
        3,
        3,
    )
    assert final.extra_time and final.penalty_winner == "Argentina"
    assert sum(m.penalty_winner is not None for m in cup.matches) == 5
    # Two matches of one group's last round kick off together; other days go one by one.
    shared = [n for n in Counter(m.kickoff_minute for m in cup.matches).values() if n > 1]
    assert shared == [2] * 8
    replays = cup.replays()
    requests = request_schedule(replays, speed=10, lead_minutes=10, request_prefix="t")
    assert len(requests) == 64
    events = schedule(replays, speed=10, start=NOW)
    finish = next(
        e.event for e in events if e.key == final.match_id.encode() and e.event.status == "finished"
    )
    assert finish.minute == EXTRA_TIME_END


def test_no_shootouts_file_means_no_shootouts(tmp_path: Path) -> None:
    assert load_shootouts(tmp_path) == {}

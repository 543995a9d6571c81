"""Fixtures and the serving input."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.features import DEFAULT_TOURNAMENT, MODEL_INPUT_COLUMNS, NEW_TEAM_FEATURES
from streams.flow.enrich import Job, match_date, resolve, resolve_fixture, serving_input
from streams.live.feature_snapshot import Fixture
from tests.factories import READ_AT, livescore, ratings_of, raw, request

RATINGS = ratings_of()


class TestFixtures:
    def test_tables_win_over_event_teams(self) -> None:
        event = livescore(home_team="A", away_team="B")
        assert resolve_fixture(RATINGS, Job(raw(b""), event, event)).home_team == "Germany"

    def test_event_teams_for_a_match_missing_from_tables(self) -> None:
        event = livescore(match_id="new", home_team="A", away_team="B", neutral=True)
        fixture = resolve_fixture(RATINGS, Job(raw(b"", key=b"new"), event, event))
        assert fixture == Fixture("A", "B", True, DEFAULT_TOURNAMENT)

    def test_request_falls_back_to_the_teams_its_state_carried(self) -> None:
        state = livescore(match_id="new", home_team="A", away_team="B")
        answer_for = request(match_id="new")
        assert resolve_fixture(RATINGS, Job(raw(b""), answer_for, state)).away_team == "B"

    def test_no_teams_anywhere_is_none(self) -> None:
        event = livescore(match_id="ghost")
        assert resolve_fixture(RATINGS, Job(raw(b""), event, event)) is None


class TestModelFrame:
    def test_columns_values_and_unknown_team_defaults(self) -> None:
        known = livescore()
        unknown = livescore(match_id="x", home_team="Atlantis", away_team="Scotland", minute=80)
        jobs = [Job(raw(b""), known, known), Job(raw(b""), unknown, unknown)]
        for job in jobs:
            assert resolve(RATINGS, job, READ_AT)
        inputs, unknown_teams = serving_input(RATINGS, jobs)
        frame = inputs.frame()
        assert tuple(frame.columns) == MODEL_INPUT_COLUMNS
        assert unknown_teams == 1
        assert frame.loc[0, "home_elo"] == 1900.0 and frame.loc[0, "tournament"] == "UEFA Euro"
        assert frame.loc[1, "home_elo"] == NEW_TEAM_FEATURES["elo"]
        assert frame.loc[1, "minute"] == 80 and frame.loc[1, "away_elo"] == 1650.0

    def test_pre_match_request_has_a_zero_state(self) -> None:
        job = Job(raw(b""), request(), None)
        assert resolve(RATINGS, job, READ_AT)
        frame = serving_input(RATINGS, [job])[0].frame()
        assert frame.loc[0, ["minute", "home_goals", "away_goals"]].tolist() == [0, 0, 0]

    def test_a_job_without_teams_is_refused(self) -> None:
        event = livescore(match_id="ghost")
        job = Job(raw(b""), event, event)
        assert not resolve(RATINGS, job, READ_AT)
        with pytest.raises(ValueError, match="resolve the fixture"):
            serving_input(RATINGS, [job])


class TestMatchDate:
    def test_sent_date_then_tables_then_state_then_the_event_day(self) -> None:
        sent = livescore(date="2024-06-20")
        assert match_date(Job(raw(b""), sent, sent), READ_AT).isoformat() == "2024-06-20"
        ask = request()
        job = Job(raw(b""), ask, None)
        job.fixture = resolve_fixture(RATINGS, job)._replace(date=dt.date(2024, 6, 21))
        assert match_date(job, READ_AT).isoformat() == "2024-06-21"
        carried = livescore(date="2024-06-22")
        assert match_date(Job(raw(b""), request(), carried), READ_AT).isoformat() == "2024-06-22"
        bare = livescore(ts="2024-06-23T23:30:00-02:00")
        assert match_date(Job(raw(b""), bare, bare), READ_AT).isoformat() == "2024-06-24"
        assert match_date(Job(raw(b""), request(), None), READ_AT) == READ_AT.date()

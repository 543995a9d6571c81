"""Deterministic, safe match ids."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from models.ids import match_id

SAFE_ID = re.compile(r"^[0-9a-z_-]{1,128}$")


def test_match_id_example_and_types_agree() -> None:
    expected = "2024-06-14_germany_scotland"
    assert match_id("2024-06-14", "Germany", "Scotland") == expected
    assert match_id(dt.date(2024, 6, 14), "Germany", "Scotland") == expected
    assert match_id(pd.Timestamp("2024-06-14"), "Germany", "Scotland") == expected


@pytest.mark.parametrize(
    ("home", "away", "expected"),
    [
        ("Curaçao", "Côte d'Ivoire", "2024-01-01_curacao_cote-d-ivoire"),
        ("South Korea", "Bosnia and Herzegovina", "2024-01-01_south-korea_bosnia-and-herzegovina"),
        ("São Tomé and Príncipe", "DR Congo", "2024-01-01_sao-tome-and-principe_dr-congo"),
    ],
)
def test_match_id_slugs_are_readable(home: str, away: str, expected: str) -> None:
    assert match_id("2024-01-01", home, away) == expected


def test_match_id_is_safe_and_bounded_for_any_name() -> None:
    weird = ["日本", "x" * 300, "a/b:c d*e", "Ελλάδα", "🙂 FC"]
    ids = {match_id("1999-12-31", home, away) for home in weird for away in weird if home != away}
    assert len(ids) == len(weird) * (len(weird) - 1)  # distinct names give distinct ids
    assert all(SAFE_ID.match(i) for i in ids)


def test_match_id_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="ISO date"):
        match_id("14/06/2024", "Germany", "Scotland")
    with pytest.raises(ValueError, match="non-empty"):
        match_id("2024-06-14", " ", "Scotland")

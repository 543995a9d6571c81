"""Deterministic match ids: the Kafka key of every event of a match and part of its Redis key."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from typing import Final

MAX_LENGTH: Final = 128
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# Long enough that the ids stay readable, short enough that date + two teams fit in 128.
_MAX_TEAM_SLUG: Final = 50


def _slug(team: str) -> str:
    # Fold accents so "Curaçao" and "Curacao" give one id; keep [a-z0-9-] only so the id is
    # safe unquoted in a Kafka key, a Redis key, a URL path and a file name.
    ascii_name = unicodedata.normalize("NFKD", team).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", ascii_name.lower()).strip("-")
    if not slug or len(slug) > _MAX_TEAM_SLUG:
        # A name with no Latin letters, or a very long one, still needs a stable distinct id.
        digest = hashlib.sha256(team.encode("utf-8")).hexdigest()[:10]
        slug = f"{slug[: _MAX_TEAM_SLUG - 11]}-{digest}".strip("-")
    return slug


def _iso_date(date: dt.date | str) -> str:
    if isinstance(date, dt.datetime):
        return date.date().isoformat()
    if isinstance(date, dt.date):
        return date.isoformat()
    try:
        return dt.date.fromisoformat(str(date).strip()[:10]).isoformat()
    except ValueError as exc:
        raise ValueError(f"match date must be an ISO date (YYYY-MM-DD), got {date!r}") from exc


def match_id(date: dt.date | str, home_team: str, away_team: str) -> str:
    """The id of the match ``home_team`` v ``away_team`` on ``date``.

    ``match_id("2024-06-14", "Germany", "Scotland") == "2024-06-14_germany_scotland"``.
    Teams become lowercase ASCII slugs with ``-`` between words, so ``_`` only separates the
    three parts; the result matches ``[0-9a-z_-]{1,128}``. A pandas ``Timestamp`` is a
    ``datetime`` and works as the date.
    """
    if not home_team.strip() or not away_team.strip():
        raise ValueError("home_team and away_team must be non-empty")
    return f"{_iso_date(date)}_{_slug(home_team)}_{_slug(away_team)}"

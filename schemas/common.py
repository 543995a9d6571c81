"""Constrained types and base classes shared by every record on the wire.

Inputs (``livescores``, ``match-requests``) and outputs (``predictions``,
``predictions-dlq``) get different base classes because they fail for different people:
an input error is an upstream producer's problem and becomes a dead letter, an output
error is a bug in this service.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Final, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

#: Longest ``match_id`` / ``request_id`` / team or tournament name accepted.
MAX_ID_LENGTH: Final = 128

# Ids are opaque: they are Kafka keys and Redis keys, so they are never stripped or
# normalised, only bounded.
MatchId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_LENGTH),
    Field(description="Opaque match id, 1..128 chars; the Kafka key of every record."),
]
RequestId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_LENGTH),
    Field(description="The producer's idempotency key, 1..128 chars; echoed in the answer."),
]
# Names are looked up in the feature tables, where stray spaces would only cause misses.
TeamName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ID_LENGTH),
    Field(description="Team name as in the feature tables, 1..128 chars."),
]
Tournament = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ID_LENGTH),
    Field(description="Tournament name as in the feature tables, 1..128 chars."),
]
# Capped at int64 so the value fits every store downstream (Redis, Java consumers).
Seq = Annotated[
    int,
    Field(ge=0, le=2**63 - 1, description="Per-match event sequence number, increasing."),
]
Timestamp = Annotated[
    AwareDatetime,
    Field(description="RFC 3339 datetime with a timezone; naive datetimes are rejected."),
]
MatchDate = Annotated[dt.date, Field(description="ISO 8601 calendar date, YYYY-MM-DD.")]
Status = Literal["scheduled", "live", "halftime", "finished"]
Minute = Annotated[int, Field(ge=0, le=130, description="Match clock in minutes, 0..130.")]
Goals = Annotated[int, Field(ge=0, description="Goals scored so far, >= 0.")]
RedCards = Annotated[int, Field(ge=0, description="Red cards so far, >= 0.")]
Outcome = Literal["home", "draw", "away"]
#: Outcome order of every probability vector: the model's output columns, the labels 0..2.
OUTCOMES: Final[tuple[Outcome, ...]] = get_args(Outcome)


def unset(value: object) -> bool:
    """For ``Field(exclude_if=unset)``: an optional field added in a later version is left
    out of the JSON while it is None, so such records stay byte for byte what older
    versions wrote (and read), and cost nothing more on the wire."""
    return value is None


class InputRecord(BaseModel):
    """Base of records read from Kafka: strict types, unknown fields ignored, immutable.

    Strict: ``"3"``, ``3.0`` and ``true`` are not ints and ``1`` is not a bool, so a
    producer's type bug becomes a visible ``schema`` dead letter instead of a silently
    coerced value. Unknown fields are ignored so producers can add fields before this
    service reads them, without a lock-step deploy.
    """

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class OutputRecord(BaseModel):
    """Base of records this service writes: unknown fields are a bug, so forbidden."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_team_pair(home: str | None, away: str | None) -> None:
    """Raise ``ValueError`` unless both teams or neither are given, and they differ.

    One team alone cannot identify a fixture that is missing from the feature tables,
    and rejecting it here gives the producer a clearer reason than ``unknown_match``.
    """
    if (home is None) != (away is None):
        raise ValueError("home_team and away_team must be sent together")
    if home is not None and home == away:
        raise ValueError("home_team and away_team must differ")

"""The JSON Schema of every record on the wire, built from the pydantic models.

``python -m schemas export`` writes one file per record to ``schemas/json/``
(``<record>.schema.json``) so that producers and consumers in other languages can validate
against the same contract the service enforces. The files are committed, and a test
(``tests/unit/schemas/test_json_schema.py``, with ``devstack/schema_check.py``) fails when
they are stale or when a change breaks the committed contract without a major version bump.

Which pydantic mode describes the bytes on the wire:

- **input** records (``livescores``, ``match-requests``) are written by producers and read
  by the service, so their schema is what the service *accepts*: mode ``validation``
  (optional fields and their defaults; unknown fields are allowed, as the models ignore them).
- **output** records (``predictions``, ``predictions-shadow``, ``predictions-dlq``) are what
  ``model_dump_json()`` writes: mode ``serialization``. The service never writes unknown
  fields, but the exported schemas stay open (no ``additionalProperties: false``): a minor
  version may add output fields, and a consumer validating with an older 1.x file must keep
  accepting them.
- **internal** records (the ``{CONSUMER_GROUP}-results`` and ``-scores`` topics, the
  table changelogs) are written and read by the service itself: mode
  ``serialization`` for the bytes, kept closed where the reading model forbids unknown fields,
  because that reader is the service of another version during an upgrade.

Every file carries ``SCHEMA_VERSION`` (in ``$id`` and ``x-schema-version``), its role, its
default topics and its key. This module imports only the models: ``schemas`` stays the bottom
of the import graph.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel

from schemas.dead_letter import DeadLetter
from schemas.livescore import Livescore
from schemas.match_forecasts import HeldResult
from schemas.match_request import MatchRequest
from schemas.match_result import MatchResult
from schemas.match_score import MatchScore
from schemas.match_state import MatchState
from schemas.prediction import Prediction
from schemas.timeline_point import TimelinePoint

#: Version of the wire contract, semantic: the major part goes up with every change that
#: breaks a producer or a consumer (see ``devstack/schema_check.py`` for the rules), the
#: minor part may go up with compatible ones. A major bump needs a CHANGELOG.md entry.
SCHEMA_VERSION: Final = "3.0.0"
#: Where ``python -m schemas export`` writes the files.
JSON_DIR: Final = Path(__file__).parent / "json"
#: The draft pydantic generates for.
DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"
#: Every exported file's name ends so; an export removes other such files it did not write.
SUFFIX: Final = ".schema.json"

Role = Literal["input", "output", "internal"]
Schema = dict[str, Any]

_SEMVER: Final = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")


@dataclass(frozen=True)
class WireRecord:
    """One record on the wire: its model, who writes and reads it, and where it goes."""

    name: str  # the file stem, as the model's module is named
    model: type[BaseModel]
    role: Role
    topics: tuple[str, ...]  # default names; every one can be changed by configuration
    key: str  # what the Kafka key holds
    summary: str  # one line for a consumer who never saw the Python code

    @property
    def file_name(self) -> str:
        return f"{self.name}{SUFFIX}"


WIRE_RECORDS: Final[tuple[WireRecord, ...]] = (
    WireRecord(
        "livescore",
        Livescore,
        "input",
        ("livescores",),
        "match_id",
        "A `livescores` value (in): one change of a match's state.",
    ),
    WireRecord(
        "match_request",
        MatchRequest,
        "input",
        ("match-requests",),
        "match_id",
        "A `match-requests` value (in): an on-demand request for a prediction.",
    ),
    WireRecord(
        "prediction",
        Prediction,
        "output",
        ("predictions", "predictions-shadow"),
        "match_id",
        "A `predictions` (and `predictions-shadow`) value (out): one prediction. "
        "Consumers must ignore fields they do not know.",
    ),
    WireRecord(
        "dead_letter",
        DeadLetter,
        "output",
        ("predictions-dlq",),
        "the bad input's original key bytes",
        "A `predictions-dlq` value (out): one input that did not become a prediction. "
        "Consumers must ignore fields they do not know.",
    ),
    WireRecord(
        "match_result",
        MatchResult,
        "internal",
        ("{CONSUMER_GROUP}-results",),
        "match_id",
        "A `{CONSUMER_GROUP}-results` value (internal): one finished match's score.",
    ),
    WireRecord(
        "match_score",
        MatchScore,
        "internal",
        ("{CONSUMER_GROUP}-scores",),
        "match_id|model_version|phase",
        "A `{CONSUMER_GROUP}-scores` value (internal): one forecast scored against a result.",
    ),
    WireRecord(
        "match_state",
        MatchState,
        "internal",
        ("{CONSUMER_GROUP}-match_to_state-changelog",),
        "match_id",
        "A `match_to_state` table changelog value (internal): the newest state and the "
        "teams of one match, what the champion's path enriches with.",
    ),
    WireRecord(
        "timeline_point",
        TimelinePoint,
        "internal",
        ("{CONSUMER_GROUP}-match_to_outputs-changelog",),
        "JSON array [match_id, seq, trigger, request_id, model_version, role, phase]",
        "A `match_to_outputs` table changelog value (internal): one published prediction "
        "of the champion or a challenger, as the read models keep it.",
    ),
    WireRecord(
        "held_result",
        HeldResult,
        "internal",
        ("{CONSUMER_GROUP}-match_to_result-changelog",),
        "match_id",
        "A `match_to_result` table changelog value (internal): a match's result as the "
        "read models score with it.",
    ),
)


def parse_version(version: str) -> tuple[int, int, int]:
    """``"1.2.3"`` as ``(1, 2, 3)``; ``ValueError`` for anything that is not MAJOR.MINOR.PATCH."""
    match = _SEMVER.fullmatch(version)
    if match is None:
        raise ValueError(f"schema version {version!r} is not MAJOR.MINOR.PATCH")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def mode_of(role: Role) -> Literal["validation", "serialization"]:
    """The pydantic mode that describes the bytes on the wire for records of ``role``."""
    return "validation" if role == "input" else "serialization"


def json_schema(record: WireRecord, version: str = SCHEMA_VERSION) -> Schema:
    """The exported JSON Schema of one wire record."""
    parse_version(version)
    schema = record.model.model_json_schema(mode=mode_of(record.role))
    if record.role == "output":
        schema = _open(schema)
    docstring = schema.pop("description", None)
    return {
        **schema,
        "$schema": DRAFT,
        "$id": f"urn:soccerpredict:schema:{record.name}:{version}",
        "title": record.model.__name__,
        "description": f"{record.summary}\n\n{docstring}" if docstring else record.summary,
        "x-schema-version": version,
        "x-role": record.role,
        "x-topics": list(record.topics),
        "x-key": record.key,
    }


def export(version: str = SCHEMA_VERSION) -> dict[str, Schema]:
    """Every wire record's schema, by file name."""
    return {record.file_name: json_schema(record, version) for record in WIRE_RECORDS}


def render(schema: Mapping[str, Any]) -> str:
    """A schema file's text: sorted keys, two-space indent, one newline at the end, so a
    re-export of unchanged models is byte for byte the same."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(directory: Path = JSON_DIR) -> list[Path]:
    """Write every schema file to ``directory`` and remove ``*.schema.json`` files there
    that no record has any more; return the paths whose text changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    schemas = export()
    for stale in sorted(directory.glob(f"*{SUFFIX}")):
        if stale.name not in schemas:
            stale.unlink()
            changed.append(stale)
    for name, schema in schemas.items():
        path = directory / name
        text = render(schema)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def differences(directory: Path = JSON_DIR) -> list[str]:
    """File names in ``directory`` that differ from a fresh export, are missing, or are
    left over from a record that no longer exists; empty when the files are up to date."""
    schemas = export()
    present = {path.name: path for path in directory.glob(f"*{SUFFIX}")}
    differ = [
        name
        for name, schema in schemas.items()
        if name not in present or present[name].read_text(encoding="utf-8") != render(schema)
    ]
    return sorted(differ + [name for name in present if name not in schemas])


def _open(node: Any) -> Any:
    # Drop ``additionalProperties: false`` (the models' extra="forbid", a guard on what this
    # service builds), keeping schema-valued ones (the value types of maps).
    if isinstance(node, dict):
        return {
            key: _open(value)
            for key, value in node.items()
            if not (key == "additionalProperties" and value is False)
        }
    if isinstance(node, list):
        return [_open(value) for value in node]
    return node

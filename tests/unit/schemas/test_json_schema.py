"""The exported JSON Schemas: fresh, compatible with the committed ones by the rules of
``devstack/schema_check.py``, and what downstream consumers can validate real records with."""

from __future__ import annotations

import copy
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import pytest
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from pydantic import BaseModel, ConfigDict, Field, create_model

from devstack.schema_check import (
    BASELINE_VARIABLE,
    ROOT,
    BaselineError,
    Change,
    breaking_changes,
    contract_errors,
    git_baselines,
    mentions,
    run,
)
from schemas import (
    DeadLetter,
    GoalForecastRow,
    HeldResult,
    Livescore,
    MatchRequest,
    MatchResult,
    MatchScore,
    MatchState,
    MatchTeams,
    ModelRef,
    Prediction,
    TimelinePoint,
)
from schemas.__main__ import main as schemas_main
from schemas.common import InputRecord, OutputRecord
from schemas.json_schema import (
    DRAFT,
    JSON_DIR,
    SCHEMA_VERSION,
    WIRE_RECORDS,
    Role,
    Schema,
    WireRecord,
    differences,
    export,
    json_schema,
    parse_version,
    render,
    write,
)
from tests.factories import livescore, request

TS = dt.datetime(2024, 6, 14, 19, 0, tzinfo=dt.UTC)
MODEL = ModelRef(name="soccer_clf", version="7", alias="champion", run_id="r1")
FILES = {
    "livescore.schema.json": Livescore,
    "match_request.schema.json": MatchRequest,
    "prediction.schema.json": Prediction,
    "dead_letter.schema.json": DeadLetter,
    "match_result.schema.json": MatchResult,
    "match_score.schema.json": MatchScore,
    "match_state.schema.json": MatchState,
    "timeline_point.schema.json": TimelinePoint,
    "held_result.schema.json": HeldResult,
}


# --- the export ------------------------------------------------------------------------


def test_committed_files_equal_a_fresh_export() -> None:
    stale = differences(JSON_DIR)
    assert not stale, f"schemas/json/ is stale ({', '.join(stale)}): run python -m schemas export"


def test_every_wire_record_has_one_file_with_the_version() -> None:
    schemas = export()
    assert {r.file_name: r.model for r in WIRE_RECORDS} == FILES
    assert list(schemas) == list(FILES)
    for name, schema in schemas.items():
        assert schema["$schema"] == DRAFT
        assert schema["$id"] == f"urn:soccerpredict:schema:{name.split('.')[0]}:{SCHEMA_VERSION}"
        assert schema["x-schema-version"] == SCHEMA_VERSION
        assert schema["title"] == FILES[name].__name__
        assert schema["description"].startswith("A `"), name  # the wire summary comes first
        assert schema["x-topics"] and schema["x-key"]
        Draft202012Validator.check_schema(schema)


def test_schema_version_is_semantic() -> None:
    assert parse_version(SCHEMA_VERSION) >= (1, 0, 0)
    for bad in ("1.0", "v1.0.0", "1.0.0-rc1", "01.0.0"):
        with pytest.raises(ValueError, match=r"MAJOR\.MINOR\.PATCH"):
            parse_version(bad)


def test_export_is_deterministic_sorted_and_ends_with_one_newline() -> None:
    first, second = export(), export()
    for name, schema in first.items():
        text = render(schema)
        assert text == render(second[name])
        assert text.endswith("}\n")
        assert render(json.loads(text)) == text  # keys already sorted


def test_outputs_are_open_and_closed_internal_records_stay_closed() -> None:
    # Consumers with an older 1.x file must accept a later 1.y's new output fields, while the
    # internal readers that forbid unknown fields are described as they are.
    schemas = export()
    for name in ("prediction.schema.json", "dead_letter.schema.json"):
        assert '"additionalProperties": false' not in render(schemas[name]), name
    assert schemas["match_result.schema.json"]["additionalProperties"] is False
    # The table values are read with extra="ignore": open, so a later version may add to them.
    for name in ("match_state.schema.json", "timeline_point.schema.json"):
        assert '"additionalProperties": false' not in render(schemas[name]), name
    held = schemas["held_result.schema.json"]
    assert "additionalProperties" not in held
    # ... but the result a held result wraps is the closed MatchResult.
    assert held["$defs"]["MatchResult"]["additionalProperties"] is False


@pytest.mark.parametrize("record", [r for r in WIRE_RECORDS if r.role == "internal"])
def test_an_internal_record_is_read_as_it_is_written(record: WireRecord) -> None:
    # One file serves the writer and the reader only while both pydantic modes agree; a
    # serializer or a computed field would split them, and the check would miss changes.
    assert record.model.model_json_schema(mode="validation") == record.model.model_json_schema(
        mode="serialization"
    )


def test_export_command_writes_checks_and_removes_left_overs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert schemas_main(["export", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)
    assert schemas_main(["export", "--out", str(tmp_path), "--check"]) == 0

    (tmp_path / "prediction.schema.json").write_text("{}\n")
    (tmp_path / "livescore.schema.json").unlink()
    (tmp_path / "old_record.schema.json").write_text("{}\n")
    (tmp_path / "notes.txt").write_text("not ours\n")
    assert differences(tmp_path) == [
        "livescore.schema.json",
        "old_record.schema.json",
        "prediction.schema.json",
    ]
    assert schemas_main(["export", "--out", str(tmp_path), "--check"]) == 1
    assert "run: python -m schemas export" in capsys.readouterr().err

    assert len(write(tmp_path)) == 3
    assert differences(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*FILES, "notes.txt"])


def test_the_schemas_package_imports_nothing_else_of_ours() -> None:
    code = (
        "import sys, schemas.json_schema, schemas.__main__\n"
        "ours = {'streams', 'models', 'devstack', 'bench', 'tests'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ours))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


# --- the compatibility rules, on synthetic before/after models ------------------------

BASES: dict[Role, type[BaseModel]] = {
    "input": InputRecord,
    "output": OutputRecord,
    "internal": OutputRecord,  # closed, as MatchResult and MatchScore
}


class OpenInternal(BaseModel):
    """An internal record whose reader ignores unknown fields, as MatchState."""

    model_config = ConfigDict(extra="ignore")


def schema_of(role: Role, version: str = "1.0.0", base: Any = None, **fields: Any) -> Schema:
    model = create_model("Rec", __base__=base or BASES[role], **fields)
    return json_schema(WireRecord("rec", model, role, ("rec",), "match_id", "A rec."), version)


def breaking(role: Role, before: dict[str, Any], after: dict[str, Any], **kw: Any) -> list[Change]:
    old, new = schema_of(role, **kw, **before), schema_of(role, **kw, **after)
    return breaking_changes({"rec.schema.json": old}, {"rec.schema.json": new})


def described(changes: list[Change]) -> list[tuple[str, str]]:
    return [(c.field, c.what) for c in changes]


ROLES: tuple[Role, ...] = ("input", "output", "internal")


def test_unchanged_models_have_no_breaking_changes() -> None:
    assert breaking_changes(export(), export()) == []


@pytest.mark.parametrize("role", ROLES)
def test_a_removed_field_breaks(role: Role) -> None:
    changes = breaking(role, {"a": (int, ...), "b": (int, 0)}, {"a": (int, ...)})
    assert described(changes) == [("b", "field removed")]
    assert changes[0].record == "Rec"


@pytest.mark.parametrize("role", ROLES)
def test_a_retyped_field_breaks(role: Role) -> None:
    changes = breaking(role, {"a": (int, ...)}, {"a": (str, ...)})
    assert described(changes) == [("a", "type changed from integer to string")]


def test_a_new_required_input_field_breaks() -> None:
    changes = breaking("input", {"a": (int, ...)}, {"a": (int, ...), "b": (str, ...)})
    assert described(changes) == [("b", "new required field")]
    assert "producers" in changes[0].why


@pytest.mark.parametrize("role", ["input", "output"])
def test_a_new_optional_field_is_compatible(role: Role) -> None:
    assert breaking(role, {"a": (int, ...)}, {"a": (int, ...), "b": (str | None, None)}) == []


def test_a_new_required_output_field_is_compatible() -> None:
    assert breaking("output", {"a": (int, ...)}, {"a": (int, ...), "b": (str, ...)}) == []


def test_a_new_field_on_an_internal_record_depends_on_its_reader() -> None:
    before, after = {"a": (int, ...)}, {"a": (int, ...), "b": (int, 0)}
    assert described(breaking("internal", before, after)) == [
        ("b", "new field, and the committed schema forbids unknown fields")
    ]
    assert breaking("internal", before, after, base=OpenInternal) == []
    required = {"a": (int, ...), "b": (int, ...)}
    assert described(breaking("internal", before, required, base=OpenInternal)) == [
        ("b", "new required field")  # the changelog's old records lack it
    ]


def test_enum_changes_break_inputs_when_narrowed_and_outputs_when_widened() -> None:
    abc = {"s": (Literal["a", "b", "c"], ...)}
    ab = {"s": (Literal["a", "b"], ...)}
    assert described(breaking("input", abc, ab)) == [("s", 'enum value(s) ["c"] removed')]
    assert breaking("input", ab, abc) == []
    assert described(breaking("output", ab, abc)) == [("s", 'enum value(s) ["c"] added')]
    assert breaking("output", abc, ab) == []


def test_a_newly_nullable_field_breaks_outputs_only() -> None:
    before, after = {"a": (int, ...)}, {"a": (int | None, ...)}
    assert described(breaking("output", before, after)) == [
        ("a", "type changed from integer to integer or null")
    ]
    assert breaking("input", before, after) == []
    assert breaking("input", {"a": (int, ...)}, {"a": (float, ...)}) == []  # widened


def test_bounds_break_inputs_when_tightened_and_outputs_when_relaxed() -> None:
    le130, le120 = {"m": (int, Field(ge=0, le=130))}, {"m": (int, Field(ge=0, le=120))}
    unbounded = {"m": (int, ...)}
    assert described(breaking("input", le130, le120)) == [("m", "maximum changed from 130 to 120")]
    assert breaking("input", le120, le130) == []
    assert described(breaking("output", le120, le130)) == [("m", "maximum changed from 120 to 130")]
    assert described(breaking("output", le130, unbounded)) == [
        ("m", "minimum 0 removed"),
        ("m", "maximum 130 removed"),
    ]
    assert breaking("output", le130, le120) == []
    short = {"t": (str, Field(max_length=10))}
    assert described(breaking("input", {"t": (str, ...)}, short)) == [("t", "maxLength 10 added")]


def test_required_and_optional_swaps() -> None:
    required, optional = {"a": (int, ...)}, {"a": (int, 0)}
    assert described(breaking("input", optional, required)) == [
        ("a", "optional field made required")
    ]
    assert breaking("input", required, optional) == []
    assert described(breaking("output", required, optional)) == [
        ("a", "required field made optional")
    ]
    assert breaking("output", optional, required) == []


def test_a_changed_input_default_breaks() -> None:
    changes = breaking("input", {"neutral": (bool, False)}, {"neutral": (bool, True)})
    assert described(changes) == [("neutral", "default changed from false to true")]
    assert breaking("output", {"neutral": (bool, False)}, {"neutral": (bool, True)}) == []


def test_a_change_inside_a_nested_record_names_its_path() -> None:
    old = export()
    new = copy.deepcopy(old)
    probabilities = new["prediction.schema.json"]["$defs"]["Probabilities"]
    del probabilities["properties"]["draw"]
    probabilities["required"].remove("draw")
    teams = new["match_state.schema.json"]["$defs"]["MatchTeams"]
    teams["properties"]["neutral"] = {"type": "string"}
    # An internal record breaks both ways; the same change is listed once.
    assert [str(c) for c in breaking_changes(old, new)] == [
        "MatchState: teams.neutral: type changed from boolean to string "
        "(the new version reads records the old one wrote)",
        "Prediction: probabilities.draw: field removed "
        "(consumers still validate against the committed schema)",
    ]


def test_descriptions_titles_and_order_are_not_breaking() -> None:
    old = export()
    new = copy.deepcopy(old)
    prediction = new["prediction.schema.json"]
    prediction["description"] = "reworded"
    prediction["properties"]["match_id"]["title"] = "Match"
    prediction["required"].reverse()
    prediction["properties"]["status"]["enum"].reverse()
    assert breaking_changes(old, new) == []


def test_a_removed_record_breaks_and_a_new_one_does_not() -> None:
    schemas = export()
    fewer = {k: v for k, v in schemas.items() if k != "match_score.schema.json"}
    assert described(breaking_changes(schemas, fewer)) == [("(record)", "the record was removed")]
    assert breaking_changes(fewer, schemas) == []


# --- the version gate ------------------------------------------------------------------


def versions(version: str, role: Role = "input", **fields: Any) -> dict[str, Schema]:
    return {"rec.schema.json": schema_of(role, version, **fields)}


BEFORE = versions("1.4.2", a=(int, ...), b=(int, ...))


def test_a_breaking_change_without_a_major_bump_fails_and_says_what_to_do() -> None:
    (error,) = contract_errors(BEFORE, versions("1.5.0", a=(int, ...)), "", "HEAD~1")
    assert "1 breaking schema change(s) against HEAD~1 (schema version 1.4.2)" in error
    assert "Rec: b: field removed (producers still send" in error
    assert "SCHEMA_VERSION in schemas/json_schema.py to 2.0.0" in error
    assert "to CHANGELOG.md" in error
    assert "python -m schemas export" in error


def test_a_major_bump_without_a_changelog_entry_fails() -> None:
    after = versions("2.0.0", a=(int, ...))
    (error,) = contract_errors(BEFORE, after, "### 2027-01-05\n- wire schema 1.4.2 was fine\n")
    assert "does not name 2.0.0" in error


def test_a_major_bump_with_a_changelog_entry_passes() -> None:
    changelog = "### 2027-01-05: field b is gone\n- **Schema version 2.0.0.** `b` is gone.\n"
    assert contract_errors(BEFORE, versions("2.0.0", a=(int, ...)), changelog) == []


def test_a_compatible_change_needs_no_bump_and_a_version_never_goes_down() -> None:
    optional = versions("1.4.2", a=(int, ...), b=(int, ...), c=(int, 0))
    assert contract_errors(BEFORE, optional, "") == []
    (error,) = contract_errors(BEFORE, versions("1.3.0", a=(int, ...), b=(int, ...)), "")
    assert "went down from 1.4.2" in error


def test_no_committed_schemas_means_nothing_can_break() -> None:
    assert contract_errors({}, export(), "") == []


def test_the_changelog_must_name_the_exact_version() -> None:
    assert not mentions("## 2027-01-05\n- 12.0.0 and 2.0.01\n", "2.0.0")
    assert mentions("schema 2.0.0.", "2.0.0") and mentions("(2.0.0)", "2.0.0")
    assert not mentions("v2.0.0.1", "2.0.0")


# --- the gate on this repository, and its git baseline ---------------------------------


def test_current_models_are_compatible_with_the_baseline() -> None:
    result = run(ROOT)
    if result.baseline is None:
        pytest.skip(f"no git baseline here; set {BASELINE_VARIABLE} or fetch history")
    assert not result.errors, "\n".join(result.errors)


def git(root: Path, *args: str) -> None:
    identity = [
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.invalid",
        "-c",
        "commit.gpgsign=false",
    ]
    subprocess.run(["git", "-C", str(root), *identity, *args], check=True, capture_output=True)


def test_the_baselines_are_the_first_commit_of_this_version_and_the_last_of_the_one_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(BASELINE_VARIABLE, raising=False)
    folder = tmp_path / "schemas" / "json"
    folder.mkdir(parents=True)
    git(tmp_path, "init", "-q")
    (tmp_path / "README.md").write_text("x\n")
    git(tmp_path, "add", "README.md")
    git(tmp_path, "commit", "-q", "-m", "before the schemas")
    assert git_baselines(tmp_path, "1.0.0") == [("schemas/json/ (never committed)", {})]

    def schema(version: str, value: int) -> dict[str, object]:
        return {"x-schema-version": version, "v": value}

    def commit(version: str, value: int) -> str:
        (folder / "a.schema.json").write_text(json.dumps(schema(version, value)))
        git(tmp_path, "add", "schemas")
        git(tmp_path, "commit", "-q", "-m", f"{version} {value}")
        return subprocess.run(
            ["git", "-C", str(tmp_path), "rev-parse", "--short=12", "HEAD"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    def labels(version: str) -> list[str]:
        found = git_baselines(tmp_path, version)
        assert found is not None
        return [label for label, _ in found]

    first = commit("1.0.0", 1)
    assert git_baselines(tmp_path, "1.0.0") == [
        (f"schemas/json/ at {first} (first commit of 1.0.0)", {"a.schema.json": schema("1.0.0", 1)})
    ]
    commit("1.0.0", 2)
    (tmp_path / "README.md").write_text("y\n")  # a commit that leaves the schemas alone
    git(tmp_path, "commit", "-q", "-am", "readme")
    # Not HEAD~1: every step under 1.0.0 is judged against where 1.0.0 began.
    assert labels("1.0.0") == [f"schemas/json/ at {first} (first commit of 1.0.0)"]
    # A version bumped in the working tree only: the last commit of 1.0.0 is the baseline.
    (folder / "a.schema.json").write_text(json.dumps(schema("1.1.0", 3)))
    last_of_1 = commit("1.0.0", 3)
    assert labels("1.1.0") == [f"schemas/json/ at {last_of_1} (last commit of 1.0.0)"]
    bumped = commit("1.1.0", 4)
    commit("1.1.0", 5)
    found = git_baselines(tmp_path, "1.1.0")
    assert found == [
        (
            f"schemas/json/ at {bumped} (first commit of 1.1.0)",
            {"a.schema.json": schema("1.1.0", 4)},
        ),
        (
            f"schemas/json/ at {last_of_1} (last commit of 1.0.0)",
            {"a.schema.json": schema("1.0.0", 3)},
        ),
    ]
    monkeypatch.setenv(BASELINE_VARIABLE, "HEAD~1")  # one named revision instead
    assert git_baselines(tmp_path, "1.1.0") == [
        ("schemas/json/ at HEAD~1", {"a.schema.json": schema("1.1.0", 4)})
    ]
    with pytest.raises(BaselineError, match="'nope' is not a commit"):
        git_baselines(tmp_path, "1.1.0", "nope")


def test_a_break_followed_by_more_commits_is_still_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What HEAD~1 missed: CI checks the tip of a push, and a break two commits back (here
    a removed input field, no bump) had left HEAD~1 equal to HEAD."""
    monkeypatch.delenv(BASELINE_VARIABLE, raising=False)
    git(tmp_path, "init", "-q")
    folder = tmp_path / "schemas" / "json"
    folder.mkdir(parents=True)
    current = versions("1.0.0", a=(int, ...))
    for step in (versions("1.0.0", a=(int, ...), b=(int, ...)), current):
        for name, body in step.items():
            (folder / name).write_text(json.dumps(body))
        git(tmp_path, "add", "schemas")
        git(tmp_path, "commit", "-q", "-m", "a step")
    (tmp_path / "README.md").write_text("docs\n")
    git(tmp_path, "add", "README.md")
    git(tmp_path, "commit", "-q", "-m", "docs only")

    found = git_baselines(tmp_path, "1.0.0")
    assert found is not None
    errors = [e for label, old in found for e in contract_errors(old, current, "", label)]
    assert len(errors) == 1
    assert "(first commit of 1.0.0)" in errors[0] and "Rec: b: field removed" in errors[0]


def test_outside_git_there_is_no_baseline(tmp_path: Path) -> None:
    assert git_baselines(tmp_path, "1.0.0") is None
    assert run(tmp_path).baseline is None


# --- downstream validation -------------------------------------------------------------

CHECKER = FormatChecker()


@CHECKER.checks("date-time", raises=ValueError)
def _rfc3339(value: object) -> bool:
    # jsonschema checks date-time only with rfc3339-validator installed; this stands in so
    # the tests do not depend on it. RFC 3339 requires the offset.
    return not isinstance(value, str) or dt.datetime.fromisoformat(value).tzinfo is not None


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((JSON_DIR / name).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=CHECKER)


def wire(record: BaseModel) -> Any:
    return json.loads(record.model_dump_json())


EVENT = livescore(home_team="Germany", away_team="Scotland", date="2024-06-14")
#: Goal forecasts at the event's 1-0 (schemas 3.0.0).
GOALS = GoalForecastRow(2.3, 0.8, ((2, 0, 0.16), (1, 0, 0.14), (2, 1, 0.13)), 0.42)


def real_records() -> dict[str, BaseModel]:
    prediction = Prediction.for_livescore(
        EVENT, [0.6, 0.25, 0.15], model=MODEL, features_version="v1+3", predicted_at=TS
    )
    answer = Prediction.for_request(
        request(), [0.2, 0.3, 0.5], model=MODEL, features_version="v1+3", received_at=TS
    )
    with_goals = Prediction.for_livescore(
        EVENT, [0.6, 0.25, 0.15], model=MODEL, features_version="v1+3", predicted_at=TS,
        goals=GOALS,
    )  # fmt: skip
    return {
        "livescore.schema.json": EVENT,
        "match_request.schema.json": request(home_team="Germany", away_team="Scotland"),
        "prediction.schema.json": prediction,
        "prediction.schema.json#request": answer,
        "prediction.schema.json#goals": with_goals,
        "dead_letter.schema.json": DeadLetter.from_raw(
            "livescores", 0, 7, b"m1", b"\xff\xfe", "invalid_json", "bad UTF-8", TS
        ),
        "dead_letter.schema.json#tombstone": DeadLetter.from_raw(
            "livescores", 1, 8, None, None, "invalid_json", "no value", TS
        ),
        "match_result.schema.json": MatchResult(
            match_id="m1",
            seq=9,
            date=dt.date(2024, 6, 14),
            finished_at=TS,
            home_team="Germany",
            away_team="Scotland",
            neutral=True,
            tournament="UEFA Euro",
            home_goals=5,
            away_goals=1,
        ),
        "match_score.schema.json": MatchScore(
            match_id="m1",
            model_version="7",
            phase="pre",
            date=dt.date(2024, 6, 14),
            home=0.6,
            draw=0.25,
            away=0.15,
            outcome="home",
            log_loss=0.51,
            brier=0.23,
            rps=0.1,
            scored_at=TS,
        ),
        "match_score.schema.json#goals": MatchScore(
            match_id="m1",
            model_version="7",
            phase="30-59",
            date=dt.date(2024, 6, 14),
            home=0.6,
            draw=0.25,
            away=0.15,
            outcome="home",
            log_loss=0.51,
            brier=0.23,
            rps=0.1,
            goals_rps=0.27,
            scored_at=TS,
        ),
        "match_state.schema.json": MatchState(
            state=EVENT,
            teams=MatchTeams(
                home_team="Germany",
                away_team="Scotland",
                neutral=True,
                tournament="UEFA Euro",
                date=dt.date(2024, 6, 14),
            ),
            touched_at=TS,
        ),
        "match_state.schema.json#new": MatchState(touched_at=TS),
        "timeline_point.schema.json": TimelinePoint(
            at=TS,
            trigger="request",
            seq=4,
            request_id="r",
            status="live",
            minute=30,
            home_goals=1,
            away_goals=0,
            home_red_cards=1,
            home=0.6,
            draw=0.25,
            away=0.15,
            version="7",
        ),
        "timeline_point.schema.json#goals": TimelinePoint(
            at=TS,
            trigger="livescore",
            seq=4,
            status="live",
            minute=30,
            home_goals=1,
            away_goals=0,
            home=0.6,
            draw=0.25,
            away=0.15,
            version="7",
            expected_goals={"home": 2.3, "away": 0.8},
        ),
        "timeline_point.schema.json#pre-match": TimelinePoint(
            at=TS,
            trigger="livescore",
            seq=None,
            status="scheduled",
            minute=0,
            home_goals=0,
            away_goals=0,
            home=0.5,
            draw=0.3,
            away=0.2,
            version="7",
        ),
        "held_result.schema.json": HeldResult(
            result=MatchResult(
                match_id="m1",
                seq=9,
                date=dt.date(2024, 6, 14),
                finished_at=TS,
                home_team="Germany",
                away_team="Scotland",
                neutral=True,
                tournament="UEFA Euro",
                home_goals=5,
                away_goals=1,
            ),
            read_at=TS,
        ),
    }


@pytest.mark.parametrize("case", list(real_records()))
def test_real_records_validate_against_the_exported_files(case: str) -> None:
    record = real_records()[case]
    name = case.split("#")[0]
    assert isinstance(record, FILES[name])
    errors = [e.message for e in validator(name).iter_errors(wire(record))]
    assert errors == []


def test_every_file_is_exercised_by_a_real_record() -> None:
    assert {case.split("#")[0] for case in real_records()} == set(FILES)


def without(body: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != field}


def broken_records() -> list[tuple[str, dict[str, Any], str]]:
    records = real_records()
    prediction = wire(records["prediction.schema.json"])
    event = wire(EVENT)
    letter = wire(records["dead_letter.schema.json"])
    point = wire(records["timeline_point.schema.json"])
    held = wire(records["held_result.schema.json"])
    goals = wire(records["prediction.schema.json#goals"])
    line = {"home": 1, "away": 0, "probability": 0.01}
    return [
        ("prediction.schema.json", without(prediction, "match_id"), "'match_id' is a required"),
        ("prediction.schema.json", {**prediction, "predicted": "win"}, "'win' is not one of"),
        (
            "prediction.schema.json",
            {**goals, "scorelines": [{**line, "home": h} for h in range(1, 7)]},
            "is too long",
        ),
        (
            "prediction.schema.json",
            {**goals, "expected_goals": {"home": -0.5, "away": 0.8}},
            "-0.5 is less than the minimum",
        ),
        ("prediction.schema.json", {**goals, "over_2_5": 1.2}, "1.2 is greater than the maximum"),
        (
            "prediction.schema.json",
            {**prediction, "probabilities": {"home": 1.5, "draw": 0, "away": 0}},
            "1.5 is greater than the maximum",
        ),
        ("livescore.schema.json", {**event, "minute": "10"}, "'10' is not of type 'integer'"),
        ("livescore.schema.json", {**event, "ts": "2024-06-14T19:00:00"}, "is not a 'date-time'"),
        ("match_request.schema.json", {"match_id": "m1"}, "'request_id' is a required"),
        ("dead_letter.schema.json", {**letter, "partition": -1}, "-1 is less than the minimum"),
        ("match_state.schema.json", {"touched_at": "x"}, "is not a 'date-time'"),
        ("match_state.schema.json", {"state": None}, "'touched_at' is a required"),
        ("timeline_point.schema.json", {**point, "minute": 131}, "131 is greater than the maximum"),
        ("timeline_point.schema.json", without(point, "version"), "'version' is a required"),
        ("held_result.schema.json", without(held, "read_at"), "'read_at' is a required"),
        (
            "held_result.schema.json",
            {**held, "result": {**held["result"], "venue": "Munich"}},
            "Additional properties are not allowed",
        ),
    ]


def messages_of(error: ValidationError) -> list[str]:
    return [error.message, *(m for inner in error.context for m in messages_of(inner))]


@pytest.mark.parametrize(("name", "body", "reason"), broken_records())
def test_records_that_break_the_contract_do_not_validate(
    name: str, body: dict[str, Any], reason: str
) -> None:
    # With the reasons inside a union (``anyOf``), which an optional field's value is.
    messages = [m for e in validator(name).iter_errors(body) for m in messages_of(e)]
    assert any(reason in m for m in messages), messages
    with pytest.raises(ValueError):  # the service rejects them too
        FILES[name].model_validate_json(json.dumps(body))


def test_an_output_field_added_in_a_later_minor_version_still_validates() -> None:
    body = {**wire(real_records()["prediction.schema.json"]), "confidence": 0.6}
    assert list(validator("prediction.schema.json").iter_errors(body)) == []


def test_a_consumer_of_2_x_accepts_the_goal_forecasts() -> None:
    """The 2.0.0 prediction schema is today's without the three goal fields (and their
    ``$defs``); being open, it accepts a record that has them."""
    schema = json.loads((JSON_DIR / "prediction.schema.json").read_text(encoding="utf-8"))
    goal_fields = {"expected_goals", "scorelines", "over_2_5"}
    assert goal_fields <= schema["properties"].keys()
    schema["properties"] = {k: v for k, v in schema["properties"].items() if k not in goal_fields}
    for name in ("ExpectedGoals", "Scoreline"):
        del schema["$defs"][name]
    body = wire(real_records()["prediction.schema.json#goals"])
    assert body["scorelines"] and body["expected_goals"] and body["over_2_5"]
    assert list(Draft202012Validator(schema, format_checker=CHECKER).iter_errors(body)) == []


def test_an_input_producer_may_send_fields_the_service_ignores() -> None:
    body = {**wire(EVENT), "venue": "Munich"}
    assert list(validator("livescore.schema.json").iter_errors(body)) == []


def test_a_match_memory_written_before_2_0_0_reads_as_its_state_and_teams() -> None:
    """The 1.0.0 ``match_to_state`` value held the whole match (forecasts, timeline); the
    changelog still has them after an upgrade, and the 2.0.0 reader takes what it needs."""
    old = {
        "state": wire(EVENT),
        "forecasts": {"7": {"pre": {"home": 0.6, "draw": 0.2, "away": 0.2, "minute": 0,
                                    "seq": None, "at": "2024-06-14T19:00:00Z"}}},
        "touched_at": "2024-06-14T19:00:00Z",
        "finished_at": None,
        "teams": {"home_team": "Germany", "away_team": "Scotland", "tournament": "UEFA Euro"},
        "pre_match": None,
        "timeline": [],
    }  # fmt: skip
    assert list(validator("match_state.schema.json").iter_errors(old)) == []
    state = MatchState.model_validate_json(json.dumps(old))
    assert state.state == EVENT and state.touched_at == TS
    assert state.teams == MatchTeams(
        home_team="Germany", away_team="Scotland", neutral=False, tournament="UEFA Euro"
    )
    assert "timeline" not in state.model_dump() and "forecasts" not in state.model_dump()

"""The schema contract check: the exported JSON Schemas are fresh, and no change breaks the
last committed ones without a major version bump and a changelog entry.

Run ``python -m devstack.schema_check`` (``--baseline REF`` to compare with one git
revision instead); ``make test`` runs it through ``tests/unit/schemas/test_json_schema.py``.

Three checks, in order:

1. **Fresh.** ``schemas/json/`` must equal ``python -m schemas export`` of the current
   models, byte for byte. A stale, missing or left-over file fails with "run python -m
   schemas export". So even a compatible change (a new optional field, a new description)
   ships with its files.
2. **Compatible.** The current export is compared with two *baselines* from the history of
   ``schemas/json/``: the **first commit of the current version** (so changes made step by
   step under one ``SCHEMA_VERSION``, over several commits, are judged together, as the
   consumers of that version see them), and the **last commit of the previous version**
   (what consumers of that version were last given; a new version must be compatible with
   it unless its major part went up). Either may be missing: no previous version yet, or a
   version not committed yet (bumped in the working tree). A commit's version is the
   ``x-schema-version`` of its files. ``SCHEMA_BASELINE`` or ``--baseline`` name one other
   revision to compare with instead, such as the branch a pull request goes into. In a
   shallow clone the walk stops at the oldest commit fetched, and says so in its label.
3. **Announced.** Breaking changes pass only when the major part of ``SCHEMA_VERSION``
   (``schemas/json_schema.py``) is above the baseline's and ``CHANGELOG.md`` names the new
   version (``2.0.0``). Any major bump needs that entry; a version
   never goes down.

What is compatible depends on whose old code must keep working, which is the record's role
(``x-role`` in each file):

- **input** (``livescores``, ``match-requests``): producers keep sending what the old schema
  allowed, so the new schema must accept every value the old one accepted. Compatible: a new
  optional field, a wider type (``integer`` to ``number``, nullable), a new enum value, a
  relaxed bound. Breaking: a removed field (what producers send would be ignored silently), a
  new required field or one made required, another type, a removed enum value, a tighter
  bound, length, pattern or format, a changed default (it changes what an omitted field means).
- **output** (``predictions``, ``predictions-shadow``, ``predictions-dlq``): consumers keep
  reading with the old schema, so every value the new one allows must be valid under the old
  one. Compatible: a new field (output schemas are open; consumers ignore unknown fields), a
  field made required, a removed enum value, a tighter bound. Breaking: a removed field, a
  field made optional, another or a wider type (newly nullable), a new enum value, a relaxed
  bound, length, pattern or format.
- **internal** (``{CONSUMER_GROUP}-results``, ``-scores``, the ``match_to_state`` changelog):
  the service reads what older versions wrote (a changelog replayed after an upgrade) and, in
  a rolling upgrade or a rollback, older workers read what newer ones write. Both sets of
  rules apply. What stays compatible is a new optional field on a record whose schema is open
  (``MatchMemory``); ``MatchResult`` and ``MatchScore`` forbid unknown fields, so on them a
  new field breaks the older readers too.

Everywhere: titles, descriptions and ``x-``/``$id`` keys are never breaking; a removed record
is breaking, a new one is not. Order in ``required`` and ``enum`` does not matter. The
comparison reads ``required`` as pydantic writes it: a field without a default.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from schemas.json_schema import (
    SCHEMA_VERSION,
    SUFFIX,
    Schema,
    differences,
    export,
    parse_version,
)

#: The repository root (this file is ``devstack/schema_check.py``).
ROOT: Final = Path(__file__).resolve().parent.parent
#: Where the exported files are committed, relative to the root.
FOLDER: Final = "schemas/json"
#: The changelog a major schema bump must be announced in, relative to the root.
CHANGELOG: Final = "CHANGELOG.md"
#: Environment variable naming the baseline git revision.
BASELINE_VARIABLE: Final = "SCHEMA_BASELINE"
EXPORT_COMMAND: Final = "python -m schemas export"

# "backward": the new schema must accept every value the old one accepted (new readers of
# old data); "forward": the old schema must accept every value the new one allows (old
# readers of new data).
Direction = Literal["backward", "forward"]
_DIRECTIONS: Final[dict[str, tuple[Direction, ...]]] = {
    "input": ("backward",),
    "output": ("forward",),
    "internal": ("backward", "forward"),
}
_WHY: Final[dict[tuple[str, Direction], str]] = {
    ("input", "backward"): "producers still send what the committed schema allows",
    ("output", "forward"): "consumers still validate against the committed schema",
    ("internal", "backward"): "the new version reads records the old one wrote",
    ("internal", "forward"): "workers still on the old version read what the new one writes",
}
# Bounds where a bigger value is tighter, and where a smaller one is.
_LOWER_BOUNDS: Final = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS: Final = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
# Keys that must simply stay the same where the narrower side has them.
_EXACT: Final = ("format", "pattern", "multipleOf")
# A key that is not there (``None`` is JSON's null, a value of its own).
_ABSENT: Final[Any] = object()


@dataclass(frozen=True)
class Change:
    """One breaking change: in which record, at which field, what changed, why it breaks."""

    record: str
    field: str
    what: str
    why: str

    def __str__(self) -> str:
        return f"{self.record}: {self.field}: {self.what} ({self.why})"


@dataclass(frozen=True)
class Result:
    """What ``run`` found: readable failures (none: pass) and the baselines it compared with,
    joined by "and" (None when there was none to read, so compatibility was not checked)."""

    errors: list[str]
    baseline: str | None


def breaking_changes(baseline: Mapping[str, Schema], current: Mapping[str, Schema]) -> list[Change]:
    """Every change from the ``baseline`` schemas to the ``current`` ones (both by file name)
    that breaks a producer or a consumer, by the rules of the module docstring."""
    changes: list[Change] = []
    for name in sorted(baseline):
        old = baseline[name]
        title = old.get("title", name)
        if name not in current:
            why = "its producers and consumers are left without a contract"
            changes.append(Change(title, "(record)", "the record was removed", why))
            continue
        new = current[name]
        role = new.get("x-role", old.get("x-role", "internal"))
        for direction in _DIRECTIONS[role]:
            walk = _Walk(old, new, direction, defaults_matter=role == "input")
            why = _WHY[(role, direction)]
            changes.extend(
                Change(title, path or "(record)", what, why) for path, what in walk.run()
            )
    unique: dict[tuple[str, str, str], Change] = {}
    for change in changes:
        unique.setdefault((change.record, change.field, change.what), change)
    return list(unique.values())


def contract_errors(
    baseline: Mapping[str, Schema],
    current: Mapping[str, Schema],
    changelog: str,
    baseline_label: str = "the baseline",
) -> list[str]:
    """Checks 2 and 3 of the module docstring: readable failures, empty when they pass."""
    new_version = _version_of(current)
    if not baseline:  # no committed schemas yet: everything is new
        return []
    old_version = _version_of(baseline)
    old, new = parse_version(old_version), parse_version(new_version)
    if new < old:
        return [
            f"SCHEMA_VERSION went down from {old_version} ({baseline_label}) to {new_version}: "
            "a version is never reused; set it above the committed one."
        ]
    errors = []
    breaking = breaking_changes(baseline, current)
    major_bumped = new[0] > old[0]
    if breaking and not major_bumped:
        bumped = f"{old[0] + 1}.0.0"
        listed = "\n".join(f"  - {change}" for change in breaking)
        errors.append(
            f"{len(breaking)} breaking schema change(s) against {baseline_label} "
            f"(schema version {old_version}):\n{listed}\n"
            "Make the change compatible (see devstack/schema_check.py for the rules), or "
            f"announce it: set SCHEMA_VERSION in schemas/json_schema.py to {bumped}, add an "
            f"entry naming {bumped} to CHANGELOG.md that says what changed, "
            f"and run {EXPORT_COMMAND}."
        )
    if major_bumped and not mentions(changelog, new_version):
        errors.append(
            f"SCHEMA_VERSION went from {old_version} to {new_version}, a major bump, but "
            f"CHANGELOG.md does not name {new_version}: add an entry "
            "that says what broke and what producers and consumers must do."
        )
    return errors


def mentions(changelog: str, version: str) -> bool:
    """Whether ``changelog`` names ``version`` as a whole (``2.0.0`` is not in ``12.0.0``)."""
    return re.search(rf"(?<![\w.]){re.escape(version)}(?![\w]|\.\d)", changelog) is not None


def run(root: Path = ROOT, baseline_ref: str | None = None) -> Result:
    """All three checks on the repository at ``root``."""
    directory = root / FOLDER
    stale = differences(directory)
    errors = []
    if stale:
        errors.append(
            f"{directory.relative_to(root)}/ is not what the models export "
            f"({', '.join(stale)}): run {EXPORT_COMMAND} and commit the files."
        )
    try:
        found = git_baselines(root, SCHEMA_VERSION, baseline_ref)
    except BaselineError as exc:
        return Result([*errors, str(exc)], None)
    if found is None:
        return Result(errors, None)
    changelog_file = root / CHANGELOG
    changelog = changelog_file.read_text(encoding="utf-8") if changelog_file.is_file() else ""
    current = export(SCHEMA_VERSION)
    for label, baseline in found:
        errors += contract_errors(baseline, current, changelog, label)
    return Result(errors, " and ".join(label for label, _ in found))


class BaselineError(ValueError):
    """The baseline revision that was asked for does not exist."""


Baseline = tuple[str, dict[str, Schema]]


def git_baselines(root: Path, version: str, ref: str | None = None) -> list[Baseline] | None:
    """The committed schemas to compare the current ones (of ``version``) with, as (a label,
    schemas by file name) each; None when git cannot say (no git, no repository).

    ``ref`` (else ``$SCHEMA_BASELINE``) names the one revision to use. By default: the
    first commit of ``version`` and the last commit of the version before it, found in the
    history of ``schemas/json/`` from ``HEAD`` (see the module docstring). A history without
    the folder gives one empty baseline: every record is new.
    """
    named = ref or os.environ.get(BASELINE_VARIABLE) or None
    try:
        if _git(root, "rev-parse", "--is-inside-work-tree").strip() != "true":
            return None
        if named is not None:
            if not _has_commit(root, named):
                raise BaselineError(f"baseline revision {named!r} is not a commit here")
            return [(f"{FOLDER}/ at {named}", _schemas_at(root, named))]
        if not _has_commit(root, "HEAD"):
            return [("HEAD (no commits yet)", {})]
        return _version_baselines(root, version)
    except FileNotFoundError:  # no git binary
        return None
    except subprocess.CalledProcessError as exc:
        if "not a git repository" in (exc.stderr or ""):
            return None
        raise


def _version_baselines(root: Path, version: str) -> list[Baseline]:
    # Newest first; only commits that changed the folder can change a version, since the
    # files carry it (check 1 keeps them exported).
    commits = _git(root, "log", "--format=%H", "HEAD", "--", f"{FOLDER}/").split()
    first_current: tuple[str, dict[str, Schema]] | None = None
    previous: tuple[str, str, dict[str, Schema]] | None = None
    for commit in commits:
        schemas = _schemas_at(root, commit)
        if not schemas:  # the folder was removed here: nothing older is a contract now
            break
        found = _version_of(schemas)
        if found != version:
            previous = (commit, found, schemas)
            break
        first_current = (commit, schemas)
    baselines: list[Baseline] = []
    if first_current is not None:
        commit, schemas = first_current
        shallow = previous is None and _is_shallow(root) and commit == commits[-1]
        what = "earliest fetched commit (shallow clone)" if shallow else "first commit"
        baselines.append((f"{FOLDER}/ at {commit[:12]} ({what} of {version})", schemas))
    if previous is not None:
        commit, found, schemas = previous
        baselines.append((f"{FOLDER}/ at {commit[:12]} (last commit of {found})", schemas))
    return baselines or [(f"{FOLDER}/ (never committed)", {})]


def _schemas_at(root: Path, ref: str) -> dict[str, Schema]:
    """The schema files of ``schemas/json/`` at ``ref``, by file name (none: no folder)."""
    listed = _git(root, "ls-tree", "--name-only", "--full-name", ref, "--", f"{FOLDER}/")
    return {
        Path(path).name: json.loads(_git(root, "show", f"{ref}:{path}"))
        for path in listed.splitlines()
        if path.endswith(SUFFIX)
    }


def _is_shallow(root: Path) -> bool:
    return _git(root, "rev-parse", "--is-shallow-repository").strip() == "true"


def _has_commit(root: Path, ref: str) -> bool:
    try:
        _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return False
    return True


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True
    ).stdout


def _version_of(schemas: Mapping[str, Schema]) -> str:
    versions = {schema.get("x-schema-version", "0.0.0") for schema in schemas.values()}
    if len(versions) != 1:
        raise ValueError(f"schema files disagree on their version: {sorted(versions)}")
    return versions.pop()


class _Walk:
    """Finds where one schema lets through a value the other rejects.

    ``backward``: values valid under ``old`` that ``new`` rejects. ``forward``: values valid
    under ``new`` that ``old`` rejects. Messages always say what changed from old to new.
    """

    def __init__(self, old: Schema, new: Schema, direction: Direction, defaults_matter: bool):
        self.roots = {"old": old, "new": new}
        self.direction = direction
        self.defaults_matter = defaults_matter
        self.seen: set[tuple[str, str]] = set()

    def run(self) -> Iterator[tuple[str, str]]:
        yield from self.compare(self.roots["old"], self.roots["new"], "")

    # "wide" is the side whose values must stay valid, "narrow" the side that must accept them.
    def _wide_narrow(self, old: Any, new: Any) -> tuple[Any, Any]:
        return (old, new) if self.direction == "backward" else (new, old)

    def compare(self, old: Schema, new: Schema, path: str) -> Iterator[tuple[str, str]]:
        old_ref, old = self._resolve(old, "old")
        new_ref, new = self._resolve(new, "new")
        if old_ref and new_ref:
            if (old_ref, new_ref) in self.seen:  # a shared or recursive $def: compared already
                return
            self.seen.add((old_ref, new_ref))
        # Only inputs: an output field's value is always written, so its default is moot.
        defaults = self.defaults_matter and self.direction == "backward"
        if defaults and "default" in old and "default" in new and old["default"] != new["default"]:
            yield path, _changed("default", old["default"], new["default"])
        old_branches, new_branches = self._branches(old, "old"), self._branches(new, "new")
        wide, narrow = self._wide_narrow(old_branches, new_branches)
        uncovered = [b for b in wide if _match(b, narrow) is None]
        if uncovered:
            yield path, (f"type changed from {_types(old_branches)} to {_types(new_branches)}")
        for branch in wide:
            other = _match(branch, narrow)
            if other is not None:
                pair = (branch, other) if self.direction == "backward" else (other, branch)
                yield from self._compare_branch(*pair, path)

    def _compare_branch(self, old: Schema, new: Schema, path: str) -> Iterator[tuple[str, str]]:
        wide, narrow = self._wide_narrow(old, new)
        wide_enum, narrow_enum = _enum(wide), _enum(narrow)
        if narrow_enum is not None:
            lost = (
                sorted(set(wide_enum) - set(narrow_enum), key=json.dumps)
                if wide_enum is not None
                else None
            )
            if lost is None:
                yield path, f"now limited to the values {_json(narrow_enum)}"
            elif lost:
                verb = "removed" if self.direction == "backward" else "added"
                yield path, f"enum value(s) {_json(lost)} {verb}"
        for key in _LOWER_BOUNDS + _UPPER_BOUNDS:
            w, n = wide.get(key), narrow.get(key)
            tighter = n is not None and (w is None or (n > w if key in _LOWER_BOUNDS else n < w))
            if tighter:
                yield path, _changed(key, old.get(key, _ABSENT), new.get(key, _ABSENT))
        for key in _EXACT:
            if key in narrow and wide.get(key, _ABSENT) != narrow[key]:
                yield path, _changed(key, old.get(key, _ABSENT), new.get(key, _ABSENT))
        if _kind(old) == "object":
            yield from self._compare_object(old, new, path)
        if _kind(old) == "array" and isinstance(old.get("items"), dict):
            yield from self.compare(old["items"], new.get("items", {}), f"{path}[]")

    def _compare_object(self, old: Schema, new: Schema, path: str) -> Iterator[tuple[str, str]]:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_req, new_req = set(old.get("required", ())), set(new.get("required", ()))
        old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
        for name in sorted(old_props.keys() | new_props.keys()):
            where = f"{path}.{name}" if path else name
            if name not in new_props:
                yield where, "field removed"
            elif name not in old_props:
                if self.direction == "backward" and name in new_req:
                    yield where, "new required field"
                if self.direction == "forward" and old_extra is False:
                    yield where, "new field, and the committed schema forbids unknown fields"
            else:
                if self.direction == "backward" and name in new_req - old_req:
                    yield where, "optional field made required"
                if self.direction == "forward" and name in old_req - new_req:
                    yield where, "required field made optional"
                yield from self.compare(old_props[name], new_props[name], where)
        wide_extra, narrow_extra = self._wide_narrow(old_extra, new_extra)
        if narrow_extra is False and wide_extra is not False:
            yield (
                path,
                _changed(
                    "additionalProperties",
                    old.get("additionalProperties", _ABSENT),
                    new.get("additionalProperties", _ABSENT),
                ),
            )
        elif isinstance(old_extra, dict) and isinstance(new_extra, dict):
            yield from self.compare(old_extra, new_extra, f"{path}.*" if path else "*")
        if isinstance(old.get("propertyNames"), dict) or isinstance(new.get("propertyNames"), dict):
            keys = f"{path} (keys)" if path else "(keys)"
            yield from self.compare(
                old.get("propertyNames", {}), new.get("propertyNames", {}), keys
            )

    def _resolve(self, schema: Schema, side: str) -> tuple[str | None, Schema]:
        # Follow "#/$defs/Name" refs (and pydantic's older allOf-of-one-ref form) into that
        # side's root; sibling keys (a description) stay.
        ref_name = None
        while True:
            if len(schema.get("allOf", ())) == 1 and set(schema["allOf"][0]) == {"$ref"}:
                schema = {**{k: v for k, v in schema.items() if k != "allOf"}, **schema["allOf"][0]}
            ref = schema.get("$ref")
            if not isinstance(ref, str):
                return ref_name, schema
            if not ref.startswith("#/"):
                raise ValueError(f"only local $refs are supported, not {ref!r}")
            target: Any = self.roots[side]
            for part in ref[2:].split("/"):
                target = target[part]
            ref_name = ref
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}

    def _branches(self, schema: Schema, side: str) -> list[Schema]:
        # A union as its alternatives, each resolved; a list of types as one branch each.
        options = schema.get("anyOf") or schema.get("oneOf")
        if options:
            return [
                b
                for option in options
                for b in self._branches(self._resolve(option, side)[1], side)
            ]
        types = schema.get("type")
        if isinstance(types, list):
            return [{**schema, "type": t} for t in types]
        return [schema]


def _kind(schema: Schema) -> str:
    if isinstance(schema.get("type"), str):
        return schema["type"]
    values = _enum(schema)
    if values:
        kinds = {_json_type(v) for v in values}
        return kinds.pop() if len(kinds) == 1 else "any"
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    return "any"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _match(branch: Schema, candidates: Sequence[Schema]) -> Schema | None:
    # The branch of ``candidates`` that can hold ``branch``'s values: same kind first, then a
    # number for an integer, then anything.
    kind = _kind(branch)
    for wanted in (kind, "number" if kind == "integer" else None, "any"):
        for candidate in candidates:
            if wanted is not None and _kind(candidate) == wanted:
                return candidate
    return None


def _enum(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    values = schema.get("enum")
    return list(values) if isinstance(values, list) else None


def _types(branches: Sequence[Schema]) -> str:
    return " or ".join(dict.fromkeys(_kind(b) for b in branches))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _changed(key: str, old: Any = _ABSENT, new: Any = _ABSENT) -> str:
    if old is _ABSENT:
        return f"{key} {_json(new)} added"
    if new is _ABSENT:
        return f"{key} {_json(old)} removed"
    return f"{key} changed from {_json(old)} to {_json(new)}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.schema_check", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--baseline",
        help=f"git revision to compare with (default: ${BASELINE_VARIABLE}, else the first "
        "commit of the current schema version and the last one of the previous version)",
    )
    args = parser.parse_args(argv)
    result = run(ROOT, args.baseline)
    for error in result.errors:
        print(f"error: {error}", file=sys.stderr)
    if result.baseline is None:
        print("schema check: no git baseline to read; compatibility not checked", file=sys.stderr)
    elif not result.errors:
        print(f"schema check: schemas/json/ is fresh and compatible with {result.baseline}")
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())

"""The configuration reference, ``docs/configuration.md``, rendered from ``Settings``.

Run ``python -m devstack.settings_doc`` after changing a field of ``streams/settings.py``
and commit what it writes. ``python -m devstack.settings_doc --check`` writes nothing and
exits 1 when the file is not what it would write; a unit test makes the same check.

Each variable's row comes from its field: the name in capitals, the type with its bounds,
the default (a secret's is never shown) and the description. The sections are runs of
consecutive fields, so a new field joins the section it is declared in.
"""

from __future__ import annotations

import argparse
import sys
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from devstack.schema_check import ROOT
from streams.settings import Settings

DOC: Final = ROOT / "docs" / "configuration.md"
COMMAND: Final = "python -m devstack.settings_doc"


@dataclass(frozen=True)
class Section:
    """The fields from ``first`` up to the next section's first, in declaration order."""

    title: str
    first: str
    about: str


SECTIONS: Final = (
    Section("Kafka", "kafka_bootstrap_servers", "The brokers, the topics and the consumer group."),
    Section(
        "Kafka security",
        "kafka_security_protocol",
        "How every Kafka client (the worker, every command, the benchmarks) connects and logs "
        "in. Examples for Confluent Cloud, Amazon MSK and mutual TLS are in "
        "[Connecting securely](security.md).",
    ),
    Section("Redis", "redis_url", "Where the latest prediction of each match is written."),
    Section("Model registry", "mlflow_tracking_uri", "The MLflow registry the models come from."),
    Section(
        "Champion, challengers and promotion",
        "model_name",
        "Which model is served, which run in shadow beside it, and when one replaces it.",
    ),
    Section("Match memory", "match_memory_hours", "How long the worker remembers a match."),
    Section("Features and batches", "features_dir", "The team features and the batch size."),
    Section("HTTP", "web_port", "The worker's web server: health, metrics, pages and admin."),
    Section("Operations", "stall_seconds", "Stall detection and tracing."),
    Section(
        "Local stack and housekeeping",
        "state_dir",
        "Local state, the local stack `python -m streams stack up` runs, and logging.",
    ),
)

INTRO: Final = f"""\
# Configuration

<!-- Generated from streams/settings.py by `{COMMAND}`: edit the field
descriptions there and run it again. A unit test fails while this file is stale. -->

One settings object, `Settings` in [`streams/settings.py`](../streams/settings.py)
(pydantic-settings, frozen), reads the environment once at start-up. The worker, every
`python -m streams` command and the benchmarks read the same variables; no `.env` file is
read. The variables [the wire contract](contract.md) names keep its defaults.

- A variable is its field's name in capitals: the field `kafka_bootstrap_servers` is
  `KAFKA_BOOTSTRAP_SERVERS`.
- Booleans take `true` or `false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
- A bad value stops any `python -m streams` command with one line,
  `error: bad setting NAME: ...`, and exit status 2.
- Secrets (type *secret*) are pydantic `SecretStr`: logs and the settings' `repr` show
  them as `**********`, the status page shows `REDIS_URL` without its user part, and this
  reference never shows a secret's default. An optional secret set to an empty value
  counts as unset.
"""


def render(settings: type[BaseSettings] = Settings, sections: Sequence[Section] = SECTIONS) -> str:
    """The whole reference, as ``docs/configuration.md`` holds it."""
    config = settings.model_config
    if config.get("env_prefix") or config.get("env_nested_delimiter"):
        raise ValueError("a variable is its field's name: no env_prefix or nesting")
    parts = [INTRO]
    grouped = list(_grouped(settings, sections))
    parts.append("\n".join(f"- [{s.title}](#{_anchor(s.title)})" for s, _ in grouped) + "\n")
    for section, fields in grouped:
        rows = [
            "| variable | type | default | description |",
            "| --- | --- | --- | --- |",
            *(_row(name, field) for name, field in fields),
        ]
        parts.append(f"## {section.title}\n\n{section.about}\n\n" + "\n".join(rows) + "\n")
    return "\n".join(parts)


def variable(name: str, field: FieldInfo) -> str:
    """The environment variable of a field (pydantic-settings reads names in any case)."""
    if field.validation_alias is not None or field.alias is not None:
        raise ValueError(f"{name}: an alias would make the variable differ from the name")
    return name.upper()


def type_of(field: FieldInfo) -> str:
    """The type a person sets, with its bounds: ``number > 0``, ``one of `a`, `b```."""
    kinds = [k for k in _members(field.annotation) if k is not type(None)]
    return " or ".join(_kind(k) for k in kinds) + _bounds(field.metadata)


def default_of(field: FieldInfo) -> str:
    """The default as a person would set it; a secret's is ``hidden``, never its value."""
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        raise ValueError("a default_factory has no value to show; use a plain default")
    value = field.default
    if value is None:
        return "unset"
    if SecretStr in _members(field.annotation):
        return "hidden"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, float):
        return f"`{int(value)}`" if value.is_integer() else f"`{value!r}`"
    if value == "":
        return "empty"
    return f"`{value}`"


def is_stale(path: Path = DOC) -> bool:
    """Whether ``path`` is not what a render would write."""
    return not path.is_file() or path.read_text(encoding="utf-8") != render()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DOC, help="file to write (%(default)s)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    if args.check:
        if is_stale(args.out):
            print(f"stale: {args.out}\nrun: {COMMAND}", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(render(), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def _grouped(
    settings: type[BaseSettings], sections: Sequence[Section]
) -> Iterator[tuple[Section, list[tuple[str, FieldInfo]]]]:
    names = list(settings.model_fields)
    starts = [names.index(s.first) if s.first in names else -1 for s in sections]
    if -1 in starts:
        raise ValueError(f"sections start at unknown fields: {[s.first for s in sections]}")
    if starts[0] != 0 or starts != sorted(set(starts)):
        raise ValueError("sections must start at the first field and follow the field order")
    for section, start, end in zip(sections, starts, [*starts[1:], len(names)], strict=True):
        yield section, [(n, settings.model_fields[n]) for n in names[start:end]]


def _row(name: str, field: FieldInfo) -> str:
    if not field.description:
        raise ValueError(f"{name} has no description: give it Field(description=...)")
    cells = [f"`{variable(name, field)}`", type_of(field), default_of(field), field.description]
    # A table cell ends at a bare pipe; none of these may span lines either.
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _members(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) in (Union, types.UnionType):
        return get_args(annotation)
    return (annotation,)


_KINDS: Final[dict[Any, str]] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    Path: "path",
    SecretStr: "*secret*",
}


def _kind(kind: Any) -> str:
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in get_args(kind))
    if kind not in _KINDS:
        raise TypeError(f"no reference name for the type {kind!r}: add one to _KINDS")
    return _KINDS[kind]


_SIGNS: Final[dict[type, str]] = {
    annotated_types.Gt: ">",
    annotated_types.Ge: "≥",
    annotated_types.Lt: "<",
    annotated_types.Le: "≤",
}


def _bounds(metadata: Sequence[Any]) -> str:
    signs = []
    for bound in metadata:
        if type(bound) not in _SIGNS:
            raise TypeError(f"no reference text for the constraint {bound!r}: add it to _SIGNS")
        value = getattr(bound, type(bound).__name__.lower())  # Gt(gt=0), Le(le=65535), ...
        signs.append(f"{_SIGNS[type(bound)]} {value}")
    return " " + ", ".join(signs) if signs else ""


def _anchor(title: str) -> str:
    # GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens.
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -")
    return kept.replace(" ", "-")


if __name__ == "__main__":
    sys.exit(main())

"""docs/contract.md names only what the code has, and leaves out nothing it serves or makes.

The doc is read as markdown: its tables (by column: ``topic``, ``setting``, ``default``,
``field``), its backticked spans (``GET /path``, ``UPPER_CASE`` settings) and its links to
``schemas/json/``. The names it is held against are read from the code: the fields of
``Settings`` and their pydantic-settings variable names and defaults, the topics
``python -m streams topics`` creates, the routes the Faust web app registers (resolved by
aiohttp's own router), and the exported JSON Schemas. Each check is also run on a made-up
name, so a checker that finds nothing cannot pass by accident.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from aiohttp.web_urldispatcher import UrlDispatcher
from pydantic import SecretStr

from streams.cli.topics import wanted_topics
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "contract.md"
SCHEMAS = ROOT / "schemas" / "json"

#: A whole backticked span that is a setting's name: upper case with an underscore.
SETTING_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
#: ``$NAME`` inside a span, as in ``Authorization: Bearer $ADMIN_TOKEN``.
SHELL_VARIABLE = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)")
HTTP_PATH = re.compile(r"^(GET|POST|PUT|DELETE|PATCH) (/\S*)$")
SCHEMA_LINK = re.compile(r"\]\((\.\./schemas/json/[^)\s]+)\)")
PATH_PARAMETER = re.compile(r"\{[^}/]+\}")


# -- reading the doc ------------------------------------------------------------------


#: A table's rows, each as column (lower case) -> cell.
Rows = list[dict[str, str]]


@dataclass(frozen=True)
class Section:
    heading: str
    text: str


def sections(text: str) -> list[Section]:
    """The text split at every heading (the part before the first one has heading '')."""
    parts = re.split(r"^(#{1,6} .*)$", text, flags=re.M)
    found = [Section("", parts[0])]
    found += [Section(parts[i].lstrip("#").strip(), parts[i + 1]) for i in range(1, len(parts), 2)]
    return found


def cells(line: str) -> list[str]:
    """A table line's cells; ``\\|`` is a pipe inside a cell."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", inner)]


def tables(text: str) -> list[Rows]:
    """Every table of ``text``: a header line, a separator line, then the rows."""
    found = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("|"):
            i += 1
            continue
        block = []
        while i < len(lines) and lines[i].startswith("|"):
            block.append(lines[i])
            i += 1
        header = [c.lower() for c in cells(block[0])]
        found.append([dict(zip(header, cells(line), strict=True)) for line in block[2:]])
    return found


def spans(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


def column(text: str, name: str) -> Iterator[tuple[dict[str, str], list[str]]]:
    """Each row of every table with column ``name``, with that cell's spans."""
    for table in tables(text):
        for row in table:
            if name in row:
                yield row, spans(row[name])


def named_settings(text: str) -> set[str]:
    """Every setting the doc names anywhere: a whole span in upper case with an underscore,
    or a ``$NAME`` in a span."""
    names = set()
    for span in spans(text):
        if SETTING_NAME.fullmatch(span):
            names.add(span)
        names.update(SHELL_VARIABLE.findall(span))
    return names


def named_topics(text: str) -> dict[str, set[str]]:
    """Each topic of a ``topic`` column, with the settings of its row's ``setting`` column."""
    topics: dict[str, set[str]] = {}
    for row, names in column(text, "topic"):
        for name in names:
            topics.setdefault(name, set()).update(spans(row.get("setting", "")))
    return topics


def named_paths(text: str) -> set[tuple[str, str]]:
    """Every ``METHOD /path`` span of the doc."""
    return {(match[1], match[2]) for span in spans(text) if (match := HTTP_PATH.fullmatch(span))}


# -- what the code has --------------------------------------------------------------------


def env_names() -> dict[str, str]:
    """Variable name -> Settings field, as pydantic-settings reads the environment."""
    config = Settings.model_config
    assert not config.get("case_sensitive"), "upper-case names assume case-insensitive env"
    prefix = config.get("env_prefix", "")
    names = {}
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias or field.alias
        assert alias is None or isinstance(alias, str), f"{field_name}: unexpected alias kind"
        names[(prefix + (alias or field_name)).upper()] = field_name
    return names


def literal_values() -> set[str]:
    """The values of the settings that are one of a fixed set (``SASL_SSL``...)."""
    values: set[str] = set()
    for field in Settings.model_fields.values():
        if typing.get_origin(field.annotation) is typing.Literal:
            values.update(str(v) for v in typing.get_args(field.annotation))
    return values


def default_settings() -> Settings:
    """Settings at the class defaults, whatever the environment of the test run says."""
    return Settings(**{name: field.default for name, field in Settings.model_fields.items()})


def shown(value: Any) -> str:
    """A default as the doc writes it ('' for none)."""
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- the checks, on any text ----------------------------------------------------------------


def unknown_settings(text: str) -> set[str]:
    return named_settings(text) - env_names().keys() - literal_values()


def wrong_defaults(text: str) -> list[str]:
    """Rows of a ``setting`` table whose ``default`` is not the field's: a single span must
    be the default, and a cell that starts with 'unset' means no default."""
    fields = env_names()
    wrong = []
    for row, names in column(text, "setting"):
        cell = row.get("default")
        if cell is None:
            continue
        said = spans(cell)
        for name in names:
            if name not in fields:
                continue  # unknown_settings reports it
            actual = shown(Settings.model_fields[fields[name]].default)
            if cell.startswith("unset") and actual != "":
                wrong.append(f"{name}: the doc says unset, the default is {actual!r}")
            elif len(said) == 1 and cell == f"`{said[0]}`" and said[0] != actual:
                wrong.append(f"{name}: the doc says {said[0]!r}, the default is {actual!r}")
    return wrong


def topic_problems(text: str, settings: Settings) -> list[str]:
    """Topics the service does not make, and topics whose setting's default is another."""
    made = {spec.name for spec in wanted_topics(settings)}
    fields = env_names()
    problems = []
    for topic, names in named_topics(text).items():
        if topic not in made:
            problems.append(f"{topic}: no such topic")
        for name in names:
            default = getattr(settings, fields[name]) if name in fields else None
            if default != topic:
                problems.append(f"{topic}: {name} names {default!r}")
    return problems


async def unserved(paths: set[tuple[str, str]], router: UrlDispatcher) -> set[tuple[str, str]]:
    """The paths the router would answer with 404 or 405 (a ``{param}`` is tried as m1)."""
    missing = set()
    for method, path in paths:
        found = await router.resolve(make_mocked_request(method, PATH_PARAMETER.sub("m1", path)))
        if found.http_exception is not None:
            missing.add((method, path))
    return missing


def registered(router: UrlDispatcher) -> set[tuple[str, str]]:
    """Every (method, path) the app serves; HEAD comes with every GET."""
    return {
        (route.method, route.resource.canonical)
        for route in router.routes()
        if route.method != "HEAD" and route.resource is not None
    }


# -- the tests --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> UrlDispatcher:
    from streams.app import create_app

    settings = default_settings().model_copy(update={"state_dir": tmp_path_factory.mktemp("s")})
    return create_app(settings).app.web.web_app.router


def test_every_setting_named_is_a_settings_field(doc: str) -> None:
    named = named_settings(doc)
    assert len(named) >= 30, f"the parser found only {sorted(named)}"
    assert unknown_settings(doc) == set()


def test_the_settings_tables_give_the_defaults(doc: str) -> None:
    checked = [name for _, names in column(doc, "setting") for name in names]
    assert len(checked) >= 30, f"the parser found only {checked}"
    assert wrong_defaults(doc) == []


def test_every_topic_named_is_made_and_every_topic_made_is_named(doc: str) -> None:
    settings = default_settings()
    named = named_topics(doc)
    assert topic_problems(doc, settings) == []
    # Each in/out topic is paired with its setting, and the internal ones are listed too.
    assert sum(1 for names in named.values() if names) == 5
    assert {spec.name for spec in wanted_topics(settings)} <= named.keys()


async def test_every_path_named_is_served_and_every_route_is_named(
    doc: str, router: UrlDispatcher
) -> None:
    named = named_paths(doc)
    assert len(named) >= 10, f"the parser found only {sorted(named)}"
    assert await unserved(named, router) == set()
    assert registered(router) <= named


def test_the_redis_key_is_the_one_written(doc: str) -> None:
    key = default_settings().redis_key("{match_id}")
    assert f"`{key}`" in doc


def test_every_schema_is_linked_and_every_link_is_a_file(doc: str) -> None:
    linked = {(DOC.parent / link).resolve() for link in SCHEMA_LINK.findall(doc)}
    assert linked == {path.resolve() for path in SCHEMAS.glob("*.schema.json")}


def test_the_field_tables_are_the_schemas_top_level_fields(doc: str) -> None:
    checked = 0
    for section in sections(doc):
        fields = {
            name
            for table in tables(section.text)
            for row in table
            if "field" in row
            for name in spans(row["field"])
        }
        if not fields:
            continue
        links = SCHEMA_LINK.findall(section.text)
        assert len(links) == 1, f"{section.heading}: a field table needs one schema link"
        schema = json.loads((DOC.parent / links[0]).read_text(encoding="utf-8"))
        assert fields == schema["properties"].keys(), section.heading
        checked += 1
    assert checked == 4, "livescores, match-requests, predictions and predictions-dlq"


async def test_the_checks_catch_made_up_names(router: UrlDispatcher) -> None:
    made_up = "\n".join(
        [
            "## Made up",
            "Set `NO_SUCH_SETTING` or `Bearer $NOR_THIS_ONE`; `SASL_SSL` is a value.",
            "",
            "| topic | setting |",
            "| --- | --- |",
            "| `no-such-topic` | |",
            "| `livescores` | `PREDICTIONS_TOPIC` |",
            "",
            "| setting | default |",
            "| --- | --- |",
            "| `WEB_PORT` | `6067` |",
            "| `MODEL_NAME` | unset |",
            "| `STALL_SECONDS` | `60` |",
        ]
    )
    assert unknown_settings(made_up) == {"NO_SUCH_SETTING", "NOR_THIS_ONE"}
    assert wrong_defaults(made_up) == [
        "WEB_PORT: the doc says '6067', the default is '6066'",
        "MODEL_NAME: the doc says unset, the default is 'soccer_clf'",
    ]
    assert topic_problems(made_up, default_settings()) == [
        "no-such-topic: no such topic",
        "livescores: PREDICTIONS_TOPIC names 'predictions'",
    ]
    asked = {("GET", "/nowhere"), ("POST", "/health"), ("GET", "/matches/{match_id}.json")}
    assert await unserved(asked, router) == {("GET", "/nowhere"), ("POST", "/health")}

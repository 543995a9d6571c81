"""The configuration reference: fresh, complete, and never showing a secret's default."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field, PositiveFloat, PositiveInt, SecretStr
from pydantic_settings import BaseSettings

from devstack.settings_doc import (
    COMMAND,
    DOC,
    SECTIONS,
    Section,
    default_of,
    main,
    render,
    type_of,
)
from streams.settings import Settings


def rows(text: str) -> list[list[str]]:
    """The table rows of a rendered reference, as cells (header and rule rows left out)."""
    cells = [line.strip("|").split(" | ") for line in text.splitlines() if line.startswith("| `")]
    return [[c.strip() for c in row] for row in cells]


def test_the_committed_reference_equals_a_fresh_render() -> None:
    committed = DOC.read_text(encoding="utf-8")
    assert committed == render(), f"docs/configuration.md is stale: run {COMMAND}"


def test_every_setting_is_listed_once_in_declaration_order() -> None:
    listed = [row[0].strip("`") for row in rows(render())]
    assert listed == [name.upper() for name in Settings.model_fields]


def test_every_setting_says_what_it_does_not_only_its_name() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert not field.description.startswith(name.upper()), name  # the table shows it
        assert len(field.description.split()) >= 4, name


def test_no_secret_default_reaches_the_reference() -> None:
    text = render()
    assert Settings.model_fields["redis_url"].default.get_secret_value() not in text
    secrets = {r[0]: r[2] for r in rows(text) if r[1] == "*secret*"}
    assert secrets == {
        "`KAFKA_SASL_PASSWORD`": "unset",
        "`REDIS_URL`": "hidden",
        "`MLFLOW_TRACKING_PASSWORD`": "unset",
        "`MLFLOW_WEBHOOK_SECRET`": "unset",
        "`ADMIN_TOKEN`": "unset",
    }


class Sample(BaseSettings):
    token: SecretStr = Field(SecretStr("hunter2"), description="A secret with a default.")
    maybe_token: SecretStr | None = Field(None, description="An optional secret.")
    timeout: PositiveFloat = Field(10.0, description="Whole seconds.")
    wait: PositiveFloat = Field(0.1, description="A fraction of a second.")
    count: PositiveInt = Field(7 * 24 * 3600, description="A product.")
    port: int = Field(6066, ge=1, le=65535, description="Two bounds.")
    mode: Literal["report", "exit"] = Field("report", description="Either | or.")
    on: bool = Field(True, description="A boolean.")
    off: bool = Field(False, description="Another boolean.")
    folder: Path = Field(Path(".state/features"), description="A path.")
    empty: str = Field("", description="Empty.")
    url: str | None = Field(None, description="Unset.")
    needed: str = Field(description="Required.")


SAMPLE = (Section("All", "token", "Every kind."),)


def test_types_and_defaults_are_shown_as_a_person_sets_them() -> None:
    cells = {r[0]: (r[1], r[2], r[3]) for r in rows(render(Sample, SAMPLE))}
    assert cells == {
        "`TOKEN`": ("*secret*", "hidden", "A secret with a default."),
        "`MAYBE_TOKEN`": ("*secret*", "unset", "An optional secret."),
        "`TIMEOUT`": ("number > 0", "`10`", "Whole seconds."),
        "`WAIT`": ("number > 0", "`0.1`", "A fraction of a second."),
        "`COUNT`": ("integer > 0", "`604800`", "A product."),
        "`PORT`": ("integer ≥ 1, ≤ 65535", "`6066`", "Two bounds."),
        "`MODE`": ("one of `report`, `exit`", "`report`", "Either \\| or."),
        "`ON`": ("boolean", "`true`", "A boolean."),
        "`OFF`": ("boolean", "`false`", "Another boolean."),
        "`FOLDER`": ("path", "`.state/features`", "A path."),
        "`EMPTY`": ("string", "empty", "Empty."),
        "`URL`": ("string", "unset", "Unset."),
        "`NEEDED`": ("string", "required", "Required."),
    }
    assert "hunter2" not in render(Sample, SAMPLE)


def test_a_type_or_default_it_cannot_show_fails_loudly() -> None:
    class Odd(BaseSettings):
        mapping: dict[str, int] = Field(default_factory=dict, description="No name for it.")

    with pytest.raises(TypeError, match="no reference name"):
        type_of(Odd.model_fields["mapping"])
    with pytest.raises(ValueError, match="default_factory"):
        default_of(Odd.model_fields["mapping"])


def test_a_field_without_a_description_cannot_be_rendered() -> None:
    class Bare(BaseSettings):
        quiet: int = 1

    with pytest.raises(ValueError, match="quiet has no description"):
        render(Bare, (Section("All", "quiet", ""),))


def test_sections_start_at_the_first_field_and_follow_the_field_order() -> None:
    text = render()
    headings = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert headings == [s.title for s in SECTIONS]
    assert rows(text)[0][0] == "`KAFKA_BOOTSTRAP_SERVERS`"
    with pytest.raises(ValueError, match="unknown fields"):
        render(Sample, (Section("All", "token", ""), Section("Gone", "nothing", "")))
    with pytest.raises(ValueError, match="first field"):
        render(Sample, (Section("Late", "timeout", ""),))
    with pytest.raises(ValueError, match="field order"):
        render(
            Sample, (Section("A", "token", ""), Section("C", "port", ""), Section("B", "wait", ""))
        )


def test_an_empty_optional_secret_is_unset_as_the_reference_says() -> None:
    assert "An optional secret set to an empty value\n  counts as unset." in render()
    optional = [
        name
        for name, field in Settings.model_fields.items()
        if field.annotation == SecretStr | None
    ]
    assert len(optional) == 4
    for name in optional:
        assert getattr(Settings(**{name: ""}), name) is None, name


def test_check_exits_1_on_a_stale_file_and_says_how_to_regenerate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "configuration.md"
    assert main(["--out", str(out), "--check"]) == 1  # missing
    assert main(["--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render()
    assert main(["--out", str(out), "--check"]) == 0
    out.write_text(render().replace("`localhost:9092`", "`localhost:9094`"), encoding="utf-8")
    capsys.readouterr()
    assert main(["--out", str(out), "--check"]) == 1
    assert f"run: {COMMAND}" in capsys.readouterr().err

"""The pure side of ``python -m streams topics``: the topic list and its report."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.topics import run_names
from streams.cli.topics import problem, report, wanted_topics
from streams.faust_glue.topic_admin import TopicCheck
from streams.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(**run_names("run1"), topic_partitions=6, state_dir=tmp_path)


def test_the_changelogs_are_named_and_sized_as_the_real_app_declares_them(
    settings: Settings,
) -> None:
    from streams.app import create_app

    app = create_app(settings).app
    declared = {
        t.changelog_topic.get_topic_name(): (t.changelog_topic.partitions, t.changelog_topic.config)
        for t in app.tables.values()
    }
    wanted = {s.name: s for s in wanted_topics(settings)}
    for name, (partitions, config) in declared.items():
        assert wanted[name].partitions == partitions == 6
        assert wanted[name].configs == config
        assert config["cleanup.policy"] == "compact"


def test_every_topic_once_with_its_policy(settings: Settings) -> None:
    specs = wanted_topics(settings)
    assert len({s.name for s in specs}) == len(specs) == 11
    compacted = {s.name: s.partitions for s in specs if s.configs["cleanup.policy"] == "compact"}
    assert compacted == {
        # Partitioned as the inputs: the read models read it beside the outputs.
        "run1-results": 6,
        "run1-scores": 1,
        "run1-dlq-replayed": 1,
        "run1-match_to_state-changelog": 6,
        "run1-match_to_outputs-changelog": 6,
        "run1-match_to_result-changelog": 6,
    }


def test_mismatches_and_refusals_make_one_line(settings: Settings) -> None:
    specs = wanted_topics(settings)
    fine = TopicCheck(existing={s.name: s.partitions for s in specs})
    assert problem(specs, fine) is None
    assert all(line.startswith("exists ") for line in report(specs, fine, 3, dry_run=False))

    check = TopicCheck(
        existing={"run1-livescores": 2, "run1-scores": 3},
        created=["run1-predictions"],
        failed={"run1-predictions-dlq": "TopicAuthorizationFailedError"},
    )
    line = problem(specs, check)
    assert line is not None and "\n" not in line
    assert "too few partitions: run1-livescores has 2, wants 6" in line
    assert "more partitions than wanted: run1-scores has 3, wants 1" in line
    assert line.endswith("not created: run1-predictions-dlq")
    lines = report(specs, check, 3, dry_run=True)
    assert "would create run1-predictions partitions=6 replicas=3 cleanup.policy=delete" in lines
    assert "refused      run1-predictions-dlq: TopicAuthorizationFailedError" in lines

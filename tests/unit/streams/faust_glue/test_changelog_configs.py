"""The tables' changelogs compact within CHANGELOG_COMPACT_SECONDS, however they are made:
by the worker (Faust's table) or ahead by ``streams topics``."""

from __future__ import annotations

from streams.app import create_app
from streams.faust_glue.topic_admin import changelog_topics
from streams.settings import Settings
from streams.table_names import TABLE_NAMES


def test_both_ways_of_making_a_changelog_give_it_the_compaction_window() -> None:
    settings = Settings(changelog_compact_seconds=90)
    wanted = {
        "cleanup.policy": "compact",
        "segment.ms": "90000",
        "delete.retention.ms": "90000",
        "min.cleanable.dirty.ratio": "0.1",
    }
    ahead = changelog_topics(settings)
    assert {spec.name.rsplit("-", 2)[-2] for spec in ahead} == set(TABLE_NAMES)
    assert all(spec.configs == wanted for spec in ahead)
    worker = create_app(settings)
    by_worker = {name: table.changelog_topic.config for name, table in worker.app.tables.items()}
    assert set(by_worker) == set(TABLE_NAMES)
    assert all(config == wanted for config in by_worker.values())

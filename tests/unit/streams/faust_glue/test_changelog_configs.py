"""The tables' changelogs compact within CHANGELOG_COMPACT_SECONDS (that the worker's own
declaration matches ``streams topics``' is tests/unit/streams/cli/test_topics.py)."""

from __future__ import annotations

from streams.faust_glue.topic_admin import changelog_topics
from streams.settings import Settings
from streams.table_names import TABLE_NAMES


def test_a_changelog_rolls_and_drops_tombstones_within_the_window() -> None:
    ahead = changelog_topics(Settings(changelog_compact_seconds=90))
    assert len(ahead) == len(TABLE_NAMES)
    for spec in ahead:
        assert spec.configs == {
            "cleanup.policy": "compact",
            "segment.ms": "90000",
            "delete.retention.ms": "90000",
            "min.cleanable.dirty.ratio": "0.1",
        }

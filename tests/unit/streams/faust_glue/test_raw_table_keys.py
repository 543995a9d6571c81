"""The match memory's changelog is keyed as the match's events are, so it is partitioned
as they are (both are hashed by aiokafka's default partitioner)."""

from __future__ import annotations

from streams.app import create_app
from streams.settings import Settings


def test_the_changelog_key_is_the_events_key() -> None:
    app = create_app(Settings()).app
    table = app.tables["match_to_state"]
    topic = table.changelog_topic
    for match_id in ("m5", "wc-final-xss", "Ünïcode 7"):
        assert topic.prepare_key(match_id, None)[0] == match_id.encode(), "not JSON quoted"
        assert app.serializers.loads_key(str, match_id.encode(), serializer="raw") == match_id
    # The topic Faust registered for recovery is this one too.
    assert app.tables._changelogs[topic.get_topic_name()] is table
    assert table.key_serializer == "raw" and topic.key_type is str

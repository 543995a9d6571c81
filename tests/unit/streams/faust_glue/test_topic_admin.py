"""When a topic a DescribeTopics answer describes counts as ready to use."""

from __future__ import annotations

from typing import Any

from streams.faust_glue.topic_admin import unready


def topic(name: str, leaders: list[int], error_code: int = 0) -> dict[str, Any]:
    return {
        "topic": name,
        "error_code": error_code,
        "partitions": [{"partition": i, "leader": leader} for i, leader in enumerate(leaders)],
    }


def test_a_widened_topic_is_not_ready_while_its_new_partitions_are_not_described() -> None:
    # Just after CreatePartitions 1 -> 4 the metadata may still show the one old, led,
    # partition: that is not the topic the caller asked for yet.
    assert unready([topic("r", [1])], {"r": 4}) == ["r"]
    assert unready([topic("r", [1, 1, 1, 1])], {"r": 4}) == []


def test_leaderless_errored_or_empty_topics_are_not_ready() -> None:
    described = [
        topic("led", [1, 1]),
        topic("leaderless", [1, -1]),
        topic("errored", [1], error_code=3),
        topic("empty", []),
    ]
    assert unready(described, {}) == ["leaderless", "errored", "empty"]

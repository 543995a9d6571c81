"""Every worker reads the whole scores topic into its score board."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from pydantic import ValidationError

from schemas import MatchScore
from streams.evaluation.board import ScoreBoard
from streams.faust_glue.topic_replica import TopicReplica

log = structlog.get_logger(__name__)


def scores_reader(kafka: Mapping[str, Any], topic: str, board: ScoreBoard) -> TopicReplica:
    """The replica of the scores topic that feeds ``board``."""

    def take(value: bytes | None) -> None:
        try:
            board.offer(MatchScore.model_validate_json(value or b""))
        except ValidationError as exc:
            log.warning("score_unreadable", error=str(exc.errors()[0]["msg"])[:200])

    return TopicReplica(kafka, topic, take)

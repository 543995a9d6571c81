"""Every worker reads the whole scores topic into its score board."""

from __future__ import annotations

import structlog
from pydantic import ValidationError

from schemas import MatchScore
from streams.evaluation.board import ScoreBoard
from streams.faust_glue.topic_replica import TopicReplica

log = structlog.get_logger(__name__)


def scores_reader(bootstrap_servers: str, topic: str, board: ScoreBoard) -> TopicReplica:
    """The replica of the scores topic that feeds ``board``."""

    def take(value: bytes | None) -> None:
        try:
            board.offer(MatchScore.model_validate_json(value or b""))
        except ValidationError as exc:
            log.warning("score_unreadable", error=str(exc.errors()[0]["msg"])[:200])

    return TopicReplica(bootstrap_servers, topic, take)

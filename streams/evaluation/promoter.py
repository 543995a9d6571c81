"""Promotion on evidence: a challenger that beats the champion takes the champion alias.

Off unless AUTO_PROMOTE. Every worker checks, from the same scores, so every worker reaches
the same decision; the move itself is guarded in the registry: the alias is moved only if
it still points at the champion the evidence was about. A second worker deciding at the
same moment therefore finds the alias already moved and does nothing, and no stale worker
can move it back. Every worker then follows the alias as it always does (poll or webhook).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from typing import Literal

import structlog
from pydantic import BaseModel

from models.paired import PairedDifference
from streams.evaluation.board import ScoreBoard
from streams.live.model_server import ModelServer
from streams.metrics import Metrics
from streams.polling import PollingService

log = structlog.get_logger(__name__)
TAG_PREFIX = "promotion."


class PromotionRefused(Exception):
    """The version cannot be promoted (it does not exist); ``str()`` is one line."""


class Promotion(BaseModel):
    """What a promotion request did."""

    outcome: Literal["promoted", "already_champion", "champion_moved"]
    version: str
    previous_champion: str | None


class Promoter(PollingService):
    """Checks the champion/challenger comparisons and moves the alias on evidence."""

    def __init__(
        self,
        *,
        board: ScoreBoard,
        models: ModelServer,
        model_name: str,
        tracking_uri: str,
        metrics: Metrics,
        auto: bool,
        min_matches: int,
        interval: float,
        decides: Callable[[], bool],
    ) -> None:
        """``decides()`` is true on the one worker that may promote automatically now (the
        group leader, with the whole scores topic read)."""
        super().__init__(interval)
        self.board = board
        self.models = models
        self.model_name = model_name
        self.tracking_uri = tracking_uri
        self.metrics = metrics
        self.auto = auto
        self.min_matches = min_matches
        self.decides = decides

    def beats(self, evidence: PairedDifference | None) -> bool:
        """Enough shared matches, and the interval of champion minus challenger above 0."""
        return evidence is not None and evidence.n >= self.min_matches and evidence.low > 0

    async def poll(self) -> None:
        champion = self.models.current
        if not self.auto or champion is None or not self.decides():
            return
        for challenger in list(self.models.challengers.values()):
            evidence = self.board.compare(champion.ref.version, challenger.ref.version)
            # Counted whatever the verdict: a check that moved nothing is visible too.
            self.metrics.promotion_checks.inc()
            if self.beats(evidence):
                assert evidence is not None  # checked by beats
                await self.promote(
                    challenger.ref.version, "auto", expected=champion.ref.version, evidence=evidence
                )
                return

    async def promote(
        self,
        version: str,
        how: Literal["auto", "manual"],
        expected: str | None = None,
        evidence: PairedDifference | None = None,
    ) -> Promotion:
        """Move the champion alias to ``version``; with ``expected``, only from that one."""
        done = await asyncio.to_thread(self._move, version, how, expected, evidence)
        if done.outcome == "promoted":
            self.metrics.promotions.labels(how=how).inc()
            log.info(
                "model_promoted",
                version=version,
                previous=done.previous_champion,
                how=how,
                evidence=evidence.model_dump() if evidence else None,
            )
        await self.models.refresh()
        return done

    def _move(
        self,
        version: str,
        how: str,
        expected: str | None,
        evidence: PairedDifference | None,
    ) -> Promotion:
        from models import registry  # mlflow is heavy: imported where it is used

        name, uri, alias = self.model_name, self.tracking_uri, self.models.alias
        if not registry.version_exists(name, version, uri):
            raise PromotionRefused(f"{name} has no version {version!r}")
        current = registry.alias_version(name, alias, uri)
        if current == version:
            return Promotion(outcome="already_champion", version=version, previous_champion=current)
        if expected is not None and current != expected:
            return Promotion(outcome="champion_moved", version=version, previous_champion=current)
        registry.set_alias(name, alias, version, uri)
        tags = {
            f"{TAG_PREFIX}decision": f"{alias} ({how})",
            f"{TAG_PREFIX}previous_champion": current or "",
            f"{TAG_PREFIX}decided_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        if evidence is not None:
            tags[f"{TAG_PREFIX}evidence"] = json.dumps(
                {**evidence.model_dump(), "min_matches": self.min_matches, "metric": "log_loss"}
            )
        registry.tag_version(name, version, tags, uri)
        return Promotion(outcome="promoted", version=version, previous_champion=current)

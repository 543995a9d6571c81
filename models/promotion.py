"""The promotion gate: which registered version serves as ``champion``.

A new version becomes champion only if its log-loss on the time-based holdout is strictly
lower than the current champion's on the same rows; the champion is re-scored now rather
than trusted from its own run, because its run may have used another holdout. The first
version becomes champion. A version that does not win becomes ``challenger``. Each decision
is written as a structured log line and as tags on the version.
"""

from __future__ import annotations

from typing import Final, Literal

import pandas as pd
import structlog
from pydantic import BaseModel, Field

from models.features import LABEL_COLUMN
from models.registry import (
    CHALLENGER,
    CHAMPION,
    RegistryError,
    alias_version,
    load_model,
    set_alias,
    tag_version,
)
from models.training import score

log = structlog.get_logger(__name__)

METRIC: Final = "holdout_log_loss"
TAG_PREFIX: Final = "promotion."


class PromotionDecision(BaseModel):
    """What the gate decided for one version, and why."""

    name: str
    version: str
    decision: Literal["champion", "challenger"]
    metric: str = METRIC
    candidate_score: float = Field(description="Candidate's log-loss on the holdout rows.")
    champion_version: str | None = Field(None, description="Champion it was compared with.")
    champion_score: float | None = Field(None, description="That champion's log-loss, re-scored.")
    holdout_rows: int
    reason: str


def beats(candidate: float, champion: float | None) -> bool:
    """True when there is no champion or the candidate's log-loss is strictly lower."""
    return champion is None or candidate < champion


def _holdout_log_loss(name: str, version: str, holdout: pd.DataFrame, tracking_uri: str) -> float:
    proba = load_model(name, version, tracking_uri).predict_proba(holdout)
    return score(proba, holdout[LABEL_COLUMN].to_numpy()).log_loss


def promote(name: str, version: str, holdout: pd.DataFrame, tracking_uri: str) -> PromotionDecision:
    """Gate ``version`` of ``name`` on ``holdout`` (model rows with ``outcome``), move the alias."""
    if holdout.empty:
        raise ValueError("the promotion gate needs holdout rows")
    candidate_score = _holdout_log_loss(name, version, holdout, tracking_uri)
    current = alias_version(name, CHAMPION, tracking_uri)
    champion_score: float | None = None
    if current is None:
        won, reason = True, "first version: no champion yet"
    elif current == version:
        won, reason, champion_score = True, "already champion", candidate_score
    else:
        try:
            champion_score = _holdout_log_loss(name, current, holdout, tracking_uri)
        except (RegistryError, ValueError, KeyError) as exc:
            # An unloadable champion is an incident for a person, not a reason to replace it
            # silently: the candidate waits as challenger.
            won, reason = False, f"champion v{current} could not be scored ({exc}); kept"
        else:
            won = beats(candidate_score, champion_score)
            verb = "beats" if won else "does not beat"
            reason = (
                f"log-loss {candidate_score:.5f} {verb} champion v{current}'s {champion_score:.5f}"
            )
    decision = PromotionDecision(
        name=name,
        version=version,
        decision=CHAMPION if won else CHALLENGER,
        candidate_score=candidate_score,
        champion_version=current,
        champion_score=champion_score,
        holdout_rows=len(holdout),
        reason=reason,
    )
    set_alias(name, decision.decision, version, tracking_uri)
    fields = decision.model_dump(exclude={"name", "version"})
    tags = {f"{TAG_PREFIX}{k}": "" if v is None else str(v) for k, v in fields.items()}
    tag_version(name, version, tags, tracking_uri)
    log.info("promotion_decision", **decision.model_dump())
    return decision
